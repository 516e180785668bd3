"""Read a dbt manifest.json into the graph the model-level DAG is built from.

Standard library only: it runs at DAG parse time, and the plan command (dbt_plan.py) reads a
manifest without importing Airflow.
"""

from __future__ import annotations

import heapq
import json
import posixpath
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUNNABLE = ("model", "seed", "snapshot")


@dataclass(frozen=True)
class DbtNode:
    """A node that becomes a task; ``tests`` are the multi-parent tests it runs by name and
    ``folder`` the project folder its file is in (``models/staging``), where jobs split."""

    unique_id: str
    name: str
    upstream: tuple[str, ...]
    tests: tuple[str, ...] = ()
    folder: str = ""


@dataclass(frozen=True)
class DbtGraph:
    """The runnable nodes in dependency order and the tests that only touch sources."""

    nodes: tuple[DbtNode, ...]
    source_tests: tuple[str, ...] = ()
    source_test_readers: tuple[str, ...] = ()  # unique_ids of nodes reading tested sources


def load_graph(manifest_path: str | Path, select_tags: Collection[str] = ()) -> DbtGraph:
    """Read ``manifest_path``; with ``select_tags`` keep only nodes carrying one of the tags."""
    path = Path(manifest_path)
    try:
        manifest = json.loads(path.read_text())
        all_nodes: dict[str, dict[str, Any]] = manifest["nodes"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"{path} is not a readable dbt manifest.json ({error}); build it with "
            f"`python -m dbt_runner.manifest --out {path}`"
        ) from error

    def wanted(node: Mapping[str, Any]) -> bool:
        tags = node.get("tags", ())
        return node.get("resource_type") in RUNNABLE and (
            not select_tags or any(tag in tags for tag in select_tags)
        )

    selected = {uid: node for uid, node in all_nodes.items() if wanted(node)}
    upstream = {uid: _runnable_parents(uid, all_nodes, selected) for uid in selected}
    order = topological_order(upstream)
    position = {uid: index for index, uid in enumerate(order)}

    owned_tests: dict[str, list[str]] = {uid: [] for uid in order}
    source_tests: list[str] = []
    tested_sources: set[str] = set()
    for test in (n for n in all_nodes.values() if n.get("resource_type") == "test"):
        parents = test.get("depends_on", {}).get("nodes", [])
        runnable = [p for p in parents if p in selected]
        if runnable and len(parents) > 1:
            owner = max(runnable, key=position.__getitem__)
            owned_tests[owner].append(test["name"])
            upstream[owner] = tuple(sorted({*upstream[owner], *runnable} - {owner}))
        elif not runnable and parents and all(p.startswith("source.") for p in parents):
            source_tests.append(test["name"])
            tested_sources.update(parents)

    readers = tuple(
        uid
        for uid in order
        if tested_sources.intersection(all_nodes[uid].get("depends_on", {}).get("nodes", ()))
    )
    nodes = tuple(
        DbtNode(
            uid,
            selected[uid]["name"],
            upstream[uid],
            tuple(sorted(owned_tests[uid])),
            _folder(selected[uid]),
        )
        for uid in order
    )
    _check_unique_names(nodes)
    return DbtGraph(nodes, tuple(sorted(source_tests)) if readers else (), readers)


def selector_tags(select: str) -> tuple[str, ...]:
    """The tags of a dbt selector the renderer supports: ``tag:a tag:b`` (a union of tags)."""
    terms = select.split()
    if not terms or not all(term.startswith("tag:") and len(term) > 4 for term in terms):
        raise ValueError(
            f"dbt selector {select!r} is not supported by the manifest renderer: "
            "use space-separated tag:<name> terms (their union), e.g. 'tag:daily'"
        )
    return tuple(term.removeprefix("tag:") for term in terms)


def _folder(node: Mapping[str, Any]) -> str:
    """``models/staging/stg_x.sql`` -> ``models/staging`` (with string functions: pathlib took a
    quarter of the graph's load at 2,000 models)."""
    return posixpath.dirname(node.get("original_file_path") or node.get("path", "")) or "."


def _runnable_parents(
    uid: str, all_nodes: Mapping[str, Mapping[str, Any]], selected: Collection[str]
) -> tuple[str, ...]:
    """Selected runnable ancestors reached directly or through ephemeral/unselected nodes."""
    found: set[str] = set()
    stack = list(all_nodes[uid].get("depends_on", {}).get("nodes", ()))
    seen: set[str] = set()
    while stack:
        parent = stack.pop()
        if parent in seen or parent not in all_nodes:
            continue  # sources and already visited nodes
        seen.add(parent)
        if parent in selected:
            found.add(parent)
        elif all_nodes[parent].get("config", {}).get("materialized") == "ephemeral":
            stack.extend(all_nodes[parent].get("depends_on", {}).get("nodes", ()))
    return tuple(sorted(found))


def topological_order(upstream: Mapping[str, Iterable[str]]) -> list[str]:
    """Kahn's algorithm over ``{node: its parents}``, ties broken by name so the order is
    stable (the same manifest always renders the same DAG and jobs)."""
    waiting = {uid: set(parents) for uid, parents in upstream.items()}
    ready = sorted(uid for uid, parents in waiting.items() if not parents)
    children: dict[str, list[str]] = {uid: [] for uid in upstream}
    for uid, parents in upstream.items():
        for parent in parents:
            children[parent].append(uid)
    order: list[str] = []
    while ready:
        uid = heapq.heappop(ready)
        order.append(uid)
        for child in children[uid]:
            waiting[child].discard(uid)
            if not waiting[child]:
                heapq.heappush(ready, child)
    if len(order) != len(upstream):
        cycle = sorted(set(upstream) - set(order))
        raise ValueError(f"dbt manifest has a dependency cycle among {cycle}")
    return order


def _check_unique_names(nodes: Sequence[DbtNode]) -> None:
    seen: dict[str, str] = {}
    for node in nodes:
        if node.name in seen:
            raise ValueError(
                f"dbt nodes {seen[node.name]} and {node.unique_id} share the name "
                f"{node.name!r}, which must be unique to be an Airflow task id; rename one"
            )
        seen[node.name] = node.unique_id
