"""Render a dbt manifest.json as Airflow tasks: one Databricks task per model, in one job.

Every model, seed and snapshot becomes a ``DatabricksTaskOperator`` that runs the dbt-runner
wheel (``dbt-runner build --select <node> ...``), so a node's tests run right after it and a
failure points at one model. The tasks are wired by the manifest's ``depends_on`` and all sit in
ONE ``DatabricksWorkflowTaskGroup``: one Databricks job, one shared job cluster, one start.

Which task runs which test:
- a test of one node runs with that node (dbt's ``cautious`` indirect selection picks it up);
- a test of several nodes or sources (relationships, singular tests joining models) runs,
  selected by name, with the parent that comes last in dependency order, and the other
  parents' tasks become upstream of that task, so it never runs before its tables exist;
- tests on sources only run in one ``source_tests`` task ahead of the models reading them.

The manifest is read with the standard library only: DAG parsing must stay fast.
"""

from __future__ import annotations

import heapq
import os
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow.providers.databricks.operators.databricks import DatabricksTaskOperator
from airflow.providers.databricks.operators.databricks_workflow import (
    DatabricksWorkflowTaskGroup,
)

from dataplatform.clusters import DEFAULT_JOB_CLUSTER_KEY
from dataplatform.tasks import python_wheel_task
from dataplatform.workflow_group import finish_workflow_group

RUNNABLE = ("model", "seed", "snapshot")
SOURCE_TESTS_TASK_ID = "source_tests"


@dataclass(frozen=True)
class DbtNode:
    """A node that becomes a task; ``tests`` are the multi-parent tests it runs by name."""

    unique_id: str
    name: str
    upstream: tuple[str, ...]
    tests: tuple[str, ...] = ()


@dataclass(frozen=True)
class DbtGraph:
    """The runnable nodes in dependency order and the tests that only touch sources."""

    nodes: tuple[DbtNode, ...]
    source_tests: tuple[str, ...] = ()
    source_test_readers: tuple[str, ...] = ()  # unique_ids of nodes reading tested sources


@dataclass(frozen=True)
class DbtWorkflowConfig:
    """Everything environment-specific the rendered tasks need.

    ``wheel`` is the path of the dbt-runner wheel (``/Volumes/...`` or ``dbfs:/...``),
    ``job_clusters`` the Jobs API ``job_clusters`` list; tasks run on ``job_cluster_key``.
    """

    databricks_conn_id: str
    job_clusters: Sequence[Mapping[str, Any]]
    wheel: str
    target: str
    environment: str  # the job is named <environment>.<dag_id>.<group_id>
    run_timeout_seconds: int
    job_cluster_key: str = DEFAULT_JOB_CLUSTER_KEY
    select_tags: Collection[str] = ()
    package_name: str = "dbt_runner"
    entry_point: str = "dbt-runner"
    polling_period_seconds: int = 30
    deferrable: bool = True
    extra_job_params: Mapping[str, Any] = field(default_factory=dict)


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
    order = _topological_order(upstream)
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
        DbtNode(uid, selected[uid]["name"], upstream[uid], tuple(sorted(owned_tests[uid])))
        for uid in order
    )
    _check_unique_names(nodes)
    return DbtGraph(nodes, tuple(sorted(source_tests)) if readers else (), readers)


def render_tasks(graph: DbtGraph, config: DbtWorkflowConfig) -> dict[str, DatabricksTaskOperator]:
    """Create one task per node in the current DAG/task group and wire them; keyed by unique_id."""
    tasks = {
        node.unique_id: _wheel_task(
            node.name,
            ["build", "--select", node.name, *node.tests, "--indirect-selection", "cautious"],
            config,
        )
        for node in graph.nodes
    }
    for node in graph.nodes:
        _set_upstream(tasks[node.unique_id], [tasks[parent] for parent in node.upstream])
    if graph.source_tests:
        checks = _wheel_task(
            SOURCE_TESTS_TASK_ID, ["test", "--select", *graph.source_tests], config
        )
        for reader in graph.source_test_readers:
            _set_upstream(tasks[reader], [checks])
    return tasks


def _set_upstream(task: DatabricksTaskOperator, parents: Sequence[DatabricksTaskOperator]) -> None:
    """``parents >> task`` for operators rendered into one DAG, in time linear in the edges.

    Airflow's ``>>`` checks that both ends share a DAG by hashing the DAG, which hashes the list
    of all its task ids, on every edge: quadratic in the models (half the render time at 2,000
    models). Between two operators of the same DAG it then only records the edge in both id sets,
    which is what this does.
    """
    for parent in parents:
        parent.downstream_task_ids.add(task.task_id)
        task.upstream_task_ids.add(parent.task_id)


def dbt_workflow(
    manifest_path: str | Path, config: DbtWorkflowConfig, group_id: str = "dbt"
) -> DatabricksWorkflowTaskGroup:
    """The whole dbt project (or its ``config.select_tags`` part) as one Databricks job.

    No task of the group gets Airflow retries: a failed model is re-run by repairing the job run
    (see ``workflow_group.finish_workflow_group``).
    """
    graph = load_graph(manifest_path, config.select_tags)
    with DatabricksWorkflowTaskGroup(
        group_id=group_id,
        databricks_conn_id=config.databricks_conn_id,
        job_clusters=[dict(cluster) for cluster in config.job_clusters],
        extra_job_params=dict(config.extra_job_params),
    ) as group:
        render_tasks(graph, config)
    return finish_workflow_group(group, config.environment, config.run_timeout_seconds)


def selector_tags(select: str) -> tuple[str, ...]:
    """The tags of a dbt selector the renderer supports: ``tag:a tag:b`` (a union of tags)."""
    terms = select.split()
    if not terms or not all(term.startswith("tag:") and len(term) > 4 for term in terms):
        raise ValueError(
            f"dbt selector {select!r} is not supported by the manifest renderer: "
            "use space-separated tag:<name> terms (their union), e.g. 'tag:daily'"
        )
    return tuple(term.removeprefix("tag:") for term in terms)


def _wheel_task(
    task_id: str, dbt_args: Sequence[str], config: DbtWorkflowConfig
) -> DatabricksTaskOperator:
    return DatabricksTaskOperator(
        task_id=task_id,
        task_config={
            "python_wheel_task": python_wheel_task(
                config.package_name, config.entry_point, [*dbt_args, "--target", config.target]
            ),
            "libraries": [{"whl": config.wheel}],
        },
        job_cluster_key=config.job_cluster_key,
        databricks_conn_id=config.databricks_conn_id,
        polling_period_seconds=config.polling_period_seconds,
        deferrable=config.deferrable,
    )


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


def _topological_order(upstream: Mapping[str, Sequence[str]]) -> list[str]:
    """Kahn's algorithm, ties broken by unique_id so the order is stable."""
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


def bundled_manifest(dag_file: str | Path) -> Path:
    """The manifest the build ships beside a dbt DAG file (DATAPLATFORM_DBT_MANIFEST overrides).

    Pants writes it (`./pants package dbt/runner:manifest`); the MWAA bundle and the local stack
    put it next to the DAG, so the scheduler never runs dbt.
    """
    override = os.environ.get("DATAPLATFORM_DBT_MANIFEST")
    return Path(override) if override else Path(dag_file).with_name("manifest.json")


def bundled_runner_wheel(dag_file: str | Path) -> str:
    """The dbt-runner wheel's file name, versioned by its content (``0.1.0+<hash>``) so two
    builds never overwrite each other in the workspace. The build ships it beside the dbt DAG
    files as dbt_runner_wheel.txt (DATAPLATFORM_DBT_RUNNER_WHEEL overrides, as the local stack
    and tests do)."""
    override = os.environ.get("DATAPLATFORM_DBT_RUNNER_WHEEL")
    if override:
        return override
    name_file = Path(dag_file).with_name("dbt_runner_wheel.txt")
    try:
        return name_file.read_text().strip()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{name_file} is missing: the MWAA bundle ships it (./pants package infra/mwaa::); "
            "elsewhere set DATAPLATFORM_DBT_RUNNER_WHEEL to the name in "
            "dist/dbt-runner/wheel-name.txt (./pants package dbt/runner:wheel)"
        ) from None
