"""Several dbt models per Databricks task: fewer dbt processes for a large project.

Every model task starts Python, imports dbt and opens a connection before its SQL runs: seconds
of CPU per task whatever the model does. With ``models_per_task`` above 1, models that sit in
the same layer of the project (its top folder: ``models/staging``, ``models/marts``) at the same
depth of the dbt graph (the longest chain of parents above them) share one task,
``dbt build --select m1 m2 ...``, in chunks of at most that many:

- two models at one depth never depend on each other (a parent is always shallower), so a
  group's models build side by side with dbt's threads, and no path leaves a group and comes
  back (it is convex): the tasks' graph stays acyclic;
- a group depends on the groups of its models' parents; tests of several models run with the
  group of the deepest of them, as for single models;
- a bucket larger than ``models_per_task`` is cut into the fewest chunks, of near-equal size,
  in the graph's order;
- a group of one model is that model's task, named after it; others are named after their
  layer and depth (``staging__depth_1``, ``staging__depth_1_part_2``).

Layers, not each folder: a 300-model project of 7 domains has 71 (folder, depth) pairs but 14
(layer, depth) pairs, and the tasks, not the models, are what costs.

``models_per_task`` 1 gives today's graph unchanged: a task per model. The result is a
``DbtGraph`` of tasks, so ``dbt_jobs`` splits it into jobs and clusters as it does models.
Standard library only and deterministic: the same manifest always gives the same tasks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dataplatform.dbt_graph import DbtGraph, DbtNode

GROUP_ID_PREFIX = "dbt_task."  # plan keys of multi-model tasks (dbt's own ids are <type>.<...>)


@dataclass(frozen=True)
class Grouping:
    """``graph``'s nodes are the tasks (``unique_id`` the plan key, ``name`` the Airflow task
    id, ``upstream`` the tasks it waits for); ``models`` gives each task's dbt node names."""

    graph: DbtGraph
    models: Mapping[str, tuple[str, ...]]


def group_models(graph: DbtGraph, models_per_task: int = 1) -> Grouping:
    """The tasks of ``graph`` with at most ``models_per_task`` models each (see module doc)."""
    if models_per_task < 1:
        raise ValueError(f"models_per_task must be at least 1, got {models_per_task}")
    if models_per_task == 1:
        return Grouping(graph, {node.unique_id: (node.name,) for node in graph.nodes})
    depth: dict[str, int] = {}
    buckets: dict[tuple[int, str], list[DbtNode]] = {}
    for node in graph.nodes:  # dependency order: parents first
        depth[node.unique_id] = 1 + max((depth[p] for p in node.upstream), default=0)
        buckets.setdefault((depth[node.unique_id], _layer(node.folder)), []).append(node)

    task_of: dict[str, str] = {}
    members: dict[str, list[DbtNode]] = {}
    names: dict[str, str] = {}
    for (level, layer), nodes in sorted(buckets.items()):
        chunks = _chunks(nodes, models_per_task)
        for index, chunk in enumerate(chunks):
            if len(chunk) == 1:
                key, name = chunk[0].unique_id, chunk[0].name
            else:
                name = _group_name(layer, level, index if len(chunks) > 1 else None)
                key = GROUP_ID_PREFIX + name
            members[key] = chunk
            names[key] = name
            task_of.update((node.unique_id, key) for node in chunk)
    _check_unique([n for k, n in names.items() if k.startswith(GROUP_ID_PREFIX)], graph.nodes)

    readers = set(graph.source_test_readers)
    tasks = tuple(
        DbtNode(
            unique_id=key,
            name=names[key],
            upstream=tuple(sorted({task_of[p] for n in chunk for p in n.upstream})),
            tests=tuple(sorted({test for n in chunk for test in n.tests})),
            folder=_layer(chunk[0].folder),
        )
        for key, chunk in members.items()
    )
    grouped = DbtGraph(
        nodes=tasks,
        source_tests=graph.source_tests,
        source_test_readers=tuple(
            key for key, chunk in members.items() if any(n.unique_id in readers for n in chunk)
        ),
    )
    return Grouping(grouped, {key: tuple(n.name for n in chunk) for key, chunk in members.items()})


def _chunks(nodes: Sequence[DbtNode], size: int) -> list[Sequence[DbtNode]]:
    """``nodes`` cut into the fewest runs of at most ``size``, their lengths differing by one."""
    count = math.ceil(len(nodes) / size)
    base, extra = divmod(len(nodes), count)
    chunks, start = [], 0
    for index in range(count):
        end = start + base + (1 if index < extra else 0)
        chunks.append(nodes[start:end])
        start = end
    return chunks


def _layer(folder: str) -> str:
    """The project folder's top two levels: ``models/staging/orders`` -> ``models/staging``."""
    return "/".join(folder.split("/")[:2])


def _group_name(layer: str, level: int, part: int | None) -> str:
    """``models/staging``, depth 1, part index 1 -> ``staging__depth_1_part_2``."""
    top = layer.split("/")[-1]
    slug = re.sub(r"[^A-Za-z0-9_]+", "_", top).strip("_") or "project"
    name = f"{slug}__depth_{level}"
    return name if part is None else f"{name}_part_{part + 1}"


def _check_unique(group_names: Sequence[str], nodes: Sequence[DbtNode]) -> None:
    """A group's task id must be no model's name and no other group's (two folders that differ
    only in characters a task id cannot hold)."""
    taken = {node.name for node in nodes}
    for name in group_names:
        if name in taken:
            raise ValueError(
                f"the task id {name!r} of a group of dbt models is taken by another model or "
                "group; rename that model or folder, or set dbt.models_per_task to 1"
            )
        taken.add(name)
