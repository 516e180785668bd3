"""Databricks operators set up for an environment: deferrable, idempotent, on job clusters."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airflow.providers.databricks.operators.databricks import (
    DatabricksNotebookOperator,
    DatabricksSubmitRunOperator,
)
from airflow.providers.databricks.operators.databricks_workflow import (
    DatabricksWorkflowTaskGroup,
)

from dataplatform.clusters import DEFAULT_JOB_CLUSTER_KEY, job_clusters, new_cluster
from dataplatform.config import Environment
from dataplatform.dbt_manifest import DbtWorkflowConfig, dbt_workflow
from dataplatform.tasks import IDEMPOTENCY_TOKEN, LOGICAL_DATE_PARAMS, notebook_path, wheel_path
from dataplatform.workflow_group import without_launch_retries

TASK_KINDS = ("notebook_task", "python_wheel_task", "spark_python_task")


def submit_run(
    task_id: str,
    env: Environment,
    *,
    libraries: Sequence[Mapping[str, str]] = (),
    **task: Mapping[str, Any],
) -> DatabricksSubmitRunOperator:
    """One-off run on a fresh job cluster; ``task`` is one of notebook_task=, python_wheel_task=,
    spark_python_task= (see ``dataplatform.tasks``).

    The whole payload goes into the templated ``json``, including the idempotency token, so a
    retry that re-submits gets the run it already started back from Databricks.
    """
    if len(task) != 1 or next(iter(task)) not in TASK_KINDS:
        raise TypeError(
            f"submit_run({task_id!r}) needs exactly one of {TASK_KINDS}, got {list(task)}"
        )
    payload: dict[str, Any] = {
        "run_name": "{{ dag.dag_id }}.{{ task.task_id }}",
        "new_cluster": new_cluster(env),
        "idempotency_token": IDEMPOTENCY_TOKEN,
        **{kind: dict(spec) for kind, spec in task.items()},
    }
    if libraries:
        payload["libraries"] = [dict(library) for library in libraries]
    return DatabricksSubmitRunOperator(
        task_id=task_id,
        json=payload,
        databricks_conn_id=env.databricks.conn_id,
        polling_period_seconds=env.databricks.polling_period_seconds,
        deferrable=True,
    )


@contextmanager
def databricks_workflow(
    group_id: str, env: Environment, notebook_params: Mapping[str, str] | None = None
) -> Iterator[DatabricksWorkflowTaskGroup]:
    """Task group whose notebooks run as ONE Databricks job sharing one job cluster.

    ``notebook_params`` (plus the logical date) are sent rendered with run-now, so templates
    belong here rather than on the member tasks. The group's ``launch`` task gets no Airflow
    retries: each launch starts a new job run (the Jobs run-now call it makes carries no
    idempotency token); transient API errors are still retried by the Databricks hook.
    """
    with DatabricksWorkflowTaskGroup(
        group_id=group_id,
        databricks_conn_id=env.databricks.conn_id,
        job_clusters=job_clusters(env),
        notebook_params={**LOGICAL_DATE_PARAMS, **(notebook_params or {})},
        extra_job_params={"tags": dict(env.cluster.tags)},
    ) as group:
        yield group
    without_launch_retries(group)


def workflow_notebook(
    task_id: str, env: Environment, notebook: str, parameters: Mapping[str, str] | None = None
) -> DatabricksNotebookOperator:
    """A notebook task of the enclosing ``databricks_workflow``, on its shared job cluster."""
    return DatabricksNotebookOperator(
        task_id=task_id,
        notebook_path=notebook_path(env, notebook),
        source="WORKSPACE",
        job_cluster_key=DEFAULT_JOB_CLUSTER_KEY,
        notebook_params=dict(parameters or {}),
        databricks_conn_id=env.databricks.conn_id,
        polling_period_seconds=env.databricks.polling_period_seconds,
        deferrable=True,
    )


def dbt_models_workflow(
    env: Environment, manifest: Path, select_tags: Collection[str] = ()
) -> DatabricksWorkflowTaskGroup:
    """One Airflow task per dbt model of ``manifest``, all in ONE Databricks job on one cluster."""
    config = DbtWorkflowConfig(
        databricks_conn_id=env.databricks.conn_id,
        job_clusters=job_clusters(env),
        wheel=wheel_path(env, env.dbt.runner_wheel),
        target=env.dbt.target,
        select_tags=select_tags,
        polling_period_seconds=env.databricks.polling_period_seconds,
        extra_job_params={"tags": dict(env.cluster.tags)},
    )
    return dbt_workflow(manifest, config)
