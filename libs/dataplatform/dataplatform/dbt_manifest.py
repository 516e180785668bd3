"""Render a dbt manifest.json as Airflow tasks: one Databricks task per model (or per group of
models, ``dbt_grouping``).

Every model, seed and snapshot becomes a ``DatabricksTaskOperator`` (``WorkflowTaskOperator``, see
``deferral``) that runs the dbt-runner wheel (``dbt-runner build --select <node> ...``), so a
node's tests run right after it and a failure points at one model. The tasks are wired by the
manifest's ``depends_on`` and sit in one ``DatabricksWorkflowTaskGroup`` (one Databricks job on one
shared job cluster) while the selection fits in one job and one cluster; past Databricks' limits
(1,000 tasks per job, 150 tasks at once per cluster) ``dbt_jobs`` splits it into several jobs and
clusters, and the groups are chained by Airflow dependencies. The dbt-runner wheel is a library of
each task, never of the shared cluster.

Which task runs which test:
- a test of one node runs with that node (dbt's ``cautious`` indirect selection picks it up);
- a test of several nodes or sources (relationships, singular tests joining models) runs,
  selected by name, with the parent that comes last in dependency order, and the other
  parents' tasks become upstream of that task, so it never runs before its tables exist;
- tests on sources only run in one ``source_tests`` task ahead of the models reading them.

The manifest is read with the standard library only: DAG parsing must stay fast.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow.providers.databricks.operators.databricks_workflow import (
    DatabricksWorkflowTaskGroup,
)
from airflow.sdk import BaseOperator

from dataplatform.clusters import DEFAULT_JOB_CLUSTER_KEY
from dataplatform.dbt_graph import DbtGraph, DbtNode, load_graph
from dataplatform.dbt_grouping import group_models
from dataplatform.deferral import WorkflowTaskOperator
from dataplatform.dbt_jobs import (
    SOURCE_TESTS_TASK_ID,
    JobLimits,
    PlannedJob,
    cluster_key,
    job_group_id,
    plan_jobs,
)
from dataplatform.tasks import python_wheel_task
from dataplatform.workflow_group import finish_workflow_group


@dataclass(frozen=True)
class DbtWorkflowConfig:
    """Everything environment-specific the rendered tasks need.

    ``wheel`` is the path of the dbt-runner wheel (``/Volumes/...`` or ``dbfs:/...``),
    ``job_clusters`` the Jobs API ``job_clusters`` list; tasks run on copies of the cluster
    ``job_cluster_key`` names, as many as ``limits`` need. ``models_per_task`` above 1 builds
    models of one layer (top folder) and graph depth together (``dbt_grouping``).
    """

    databricks_conn_id: str
    job_clusters: Sequence[Mapping[str, Any]]
    wheel: str
    target: str
    environment: str  # the job is named <environment>.<dag_id>.<group_id>
    run_timeout_seconds: int
    min_deferral_seconds: float  # see deferral.MinDeferral
    job_cluster_key: str = DEFAULT_JOB_CLUSTER_KEY
    select_tags: Collection[str] = ()
    package_name: str = "dbt_runner"
    entry_point: str = "dbt-runner"
    polling_period_seconds: int = 30
    deferrable: bool = True
    extra_job_params: Mapping[str, Any] = field(default_factory=dict)
    limits: JobLimits = JobLimits()
    models_per_task: int = 1


def _set_upstream(task: BaseOperator, parents: Sequence[BaseOperator]) -> None:
    """``parents >> task`` for operators rendered into one DAG, in time linear in the edges.

    Airflow's ``>>`` checks that both ends share a DAG by hashing the DAG, which hashes the list
    of all its task ids, on every edge: quadratic in the models (half the render time at 2,000
    models). Between two operators of the same DAG it then only records the edge in both id sets,
    which is what this does.
    """
    for parent in parents:
        parent.downstream_task_ids.add(task.task_id)
        task.upstream_task_ids.add(parent.task_id)


def _set_upstream_group(
    group: DatabricksWorkflowTaskGroup, parent: DatabricksWorkflowTaskGroup
) -> None:
    """``parent >> group`` for two finished groups of one DAG, in time linear in their tasks.

    Airflow's ``>>`` between task groups makes each leaf of ``parent`` upstream of each root of
    ``group`` (its ``launch``) and, per leaf, recomputes the roots of ``group`` and hashes the
    DAG: quadratic in the models (a third of the render time of a 2,000-model split). This
    records the same edges and group relations once;
    tests/dataplatform/test_dbt_manifest.py checks it against ``>>``.
    """
    leaves = list(parent.get_leaves())
    group.upstream_group_ids.add(parent.group_id)
    parent.downstream_group_ids.add(group.group_id)
    group.upstream_task_ids.update(leaf.task_id for leaf in leaves)
    for root in list(group.get_roots()):
        _set_upstream(root, leaves)


def dbt_workflow(
    manifest_path: str | Path, config: DbtWorkflowConfig, group_id: str = "dbt"
) -> tuple[DatabricksWorkflowTaskGroup, ...]:
    """The dbt project (or its ``config.select_tags`` part) as Databricks jobs: one
    ``DatabricksWorkflowTaskGroup`` when it fits in one job, else one per planned job
    (``<group_id>_1``, ``<group_id>_2``... see ``dbt_jobs``), each after the jobs it reads from.

    No task of a group gets Airflow retries: a failed model is re-run by repairing the job run
    (see ``workflow_group.finish_workflow_group``).
    """
    grouping = group_models(load_graph(manifest_path, config.select_tags), config.models_per_task)
    graph = grouping.graph
    plan = plan_jobs(graph, config.limits)
    nodes = {node.unique_id: node for node in graph.nodes}
    groups: list[DatabricksWorkflowTaskGroup] = []
    for index, job in enumerate(plan.jobs):
        with DatabricksWorkflowTaskGroup(
            group_id=job_group_id(group_id, plan, index),
            databricks_conn_id=config.databricks_conn_id,
            job_clusters=_job_clusters(config, len(job.clusters)),
            extra_job_params=dict(config.extra_job_params),
        ) as group:
            _render_job(job, nodes, grouping.models, graph, config)
        groups.append(finish_workflow_group(group, config.environment, config.run_timeout_seconds))
        for upstream in job.upstream_jobs:
            _set_upstream_group(group, groups[upstream])
    return tuple(groups)


def _render_job(
    job: PlannedJob,
    nodes: Mapping[str, DbtNode],
    models: Mapping[str, Sequence[str]],
    graph: DbtGraph,
    config: DbtWorkflowConfig,
) -> None:
    """One task per planned task (building its ``models``), on its planned cluster, wired to
    its parents in the job (the parents in earlier jobs have run when this job starts)."""
    cluster_of = job.cluster_of()
    tasks: dict[str, WorkflowTaskOperator] = {}
    for task_id in job.tasks:
        key = cluster_key(config.job_cluster_key, cluster_of[task_id])
        if task_id == SOURCE_TESTS_TASK_ID:
            args = ["test", "--select", *graph.source_tests]
            tasks[task_id] = _wheel_task(SOURCE_TESTS_TASK_ID, args, key, config)
            continue
        node = nodes[task_id]
        selected = [*models[task_id], *node.tests]
        args = ["build", "--select", *selected, "--indirect-selection", "cautious"]
        tasks[task_id] = _wheel_task(node.name, args, key, config)
    readers = set(graph.source_test_readers)
    for task_id in job.tasks:
        if task_id == SOURCE_TESTS_TASK_ID:
            continue
        checks = (SOURCE_TESTS_TASK_ID,) if task_id in readers else ()
        parents = (*checks, *nodes[task_id].upstream)
        _set_upstream(tasks[task_id], [tasks[parent] for parent in parents if parent in tasks])


def _job_clusters(config: DbtWorkflowConfig, count: int) -> list[dict[str, Any]]:
    """``count`` copies of the configured job cluster (no libraries: those are on the tasks)."""
    specs = {c["job_cluster_key"]: c["new_cluster"] for c in config.job_clusters}
    if config.job_cluster_key not in specs:
        raise ValueError(
            f"job_cluster_key {config.job_cluster_key!r} is not among the job_clusters "
            f"{sorted(specs)}"
        )
    spec = dict(specs[config.job_cluster_key])
    keys = [cluster_key(config.job_cluster_key, i) for i in range(count)]
    return [{"job_cluster_key": key, "new_cluster": copy.deepcopy(spec)} for key in keys]


def _wheel_task(
    task_id: str, dbt_args: Sequence[str], job_cluster_key: str, config: DbtWorkflowConfig
) -> WorkflowTaskOperator:
    return WorkflowTaskOperator(
        task_id=task_id,
        task_config={
            "python_wheel_task": python_wheel_task(
                config.package_name, config.entry_point, [*dbt_args, "--target", config.target]
            ),
            "libraries": [{"whl": config.wheel}],
        },
        job_cluster_key=job_cluster_key,
        databricks_conn_id=config.databricks_conn_id,
        polling_period_seconds=config.polling_period_seconds,
        min_deferral_seconds=config.min_deferral_seconds,
        deferrable=config.deferrable,
    )


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
