"""Databricks operators set up for an environment: deferrable, durable, on job clusters."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airflow.providers.databricks.operators.databricks import (
    DatabricksRunNowOperator,
    DatabricksSubmitRunOperator,
    _handle_deferrable_databricks_operator_execution,
)
from airflow.providers.databricks.operators.databricks_workflow import (
    DatabricksWorkflowTaskGroup,
)
from airflow.sdk import Asset

from dataplatform.clusters import DEFAULT_JOB_CLUSTER_KEY, dbt_cluster, job_clusters, new_cluster
from dataplatform.config import Environment
from dataplatform.dbt_jobs import JobLimits
from dataplatform.dbt_graph import selector_tags
from dataplatform.dbt_manifest import DbtWorkflowConfig, dbt_workflow
from dataplatform.deferral import MinDeferral, WorkflowNotebookOperator
from dataplatform.jobs import job_name
from dataplatform.tasks import (
    IDEMPOTENCY_TOKEN,
    RUN_PARAMS,
    dbt_runner_task,
    notebook_path,
    table_params,
    wheel_library,
    wheel_path,
)
from dataplatform.workflow_group import finish_workflow_group

TASK_KINDS = ("notebook_task", "python_wheel_task", "spark_python_task")


class _DurableDeferral:
    """Makes a provider run operator's deferrable path durable too.

    The provider keeps the run id in task state (``durable``) only when it polls on the worker;
    deferrable, it starts a run on every try. Here every try goes through the provider's
    resumable logic and then defers instead of polling: a retry reconnects to a run that is still
    active (a lost worker), skips a run that succeeded, and starts a fresh run after a FAILED or
    CANCELED one (the idempotency token differs per try, see ``tasks.IDEMPOTENCY_TOKEN``).
    Deferring reuses the provider's own (private) step, as its non-durable deferrable path does;
    tests/e2e/test_e2e_idempotency.py runs both retry cases against the emulator.

    A successful try forgets its run id: clearing the finished task in Airflow then starts a
    fresh Databricks run (the new try's token), instead of the provider's "already succeeded"
    skip, which is meant for a worker lost after its run had finished
    (tests/scheduler/test_clear_rerun.py).
    """

    def execute(self, context: Any) -> Any:
        result = self.execute_resumable(context)  # returns only when the run is done (no defer)
        self._forget_run(context)
        return result

    def execute_complete(self, context: Any, event: dict | None = None) -> Any:
        result = super().execute_complete(context, event)  # raises unless the run succeeded
        self._forget_run(context)
        return result

    def _forget_run(self, context: Any) -> None:
        if self.durable and (store := context.get("task_state_store")) is not None:
            store.delete(self.external_id_key)

    def poll_until_complete(self, external_id: Any, context: Any) -> None:
        if not self.deferrable:
            return super().poll_until_complete(external_id, context)
        self.run_id = external_id
        _handle_deferrable_databricks_operator_execution(self, self._hook, self.log, context)
        return None


class DurableSubmitRunOperator(_DurableDeferral, MinDeferral, DatabricksSubmitRunOperator):
    """``DatabricksSubmitRunOperator``, durable when deferrable (see ``_DurableDeferral``), with
    ``deferral.MinDeferral``."""


class DurableRunNowOperator(_DurableDeferral, MinDeferral, DatabricksRunNowOperator):
    """``DatabricksRunNowOperator``, durable when deferrable (see ``_DurableDeferral``), with
    ``deferral.MinDeferral``."""


def submit_run(
    task_id: str,
    env: Environment,
    *,
    libraries: Sequence[Mapping[str, str]] = (),
    cluster: Mapping[str, Any] | None = None,
    outlets: Sequence[Asset] = (),
    **task: Mapping[str, Any],
) -> DurableSubmitRunOperator:
    """One-off run on a fresh job cluster (``cluster``, default the environment's); ``task`` is
    one of notebook_task=, python_wheel_task=, spark_python_task= (see ``dataplatform.tasks``).

    The run is named ``<env>.<dag_id>.<task_id>`` and capped at the environment's run timeout;
    ``outlets`` are the Assets a successful run updates.
    """
    if len(task) != 1 or next(iter(task)) not in TASK_KINDS:
        raise TypeError(
            f"submit_run({task_id!r}) needs exactly one of {TASK_KINDS}, got {list(task)}"
        )
    payload: dict[str, Any] = {
        "run_name": env.name + ".{{ dag.dag_id }}.{{ task.task_id }}",
        "new_cluster": dict(cluster) if cluster else new_cluster(env),
        "timeout_seconds": env.timeouts.run_seconds,
        "idempotency_token": IDEMPOTENCY_TOKEN,
        **{kind: dict(spec) for kind, spec in task.items()},
    }
    if libraries:
        payload["libraries"] = [dict(library) for library in libraries]
    return DurableSubmitRunOperator(
        task_id=task_id,
        json=payload,
        databricks_conn_id=env.databricks.conn_id,
        polling_period_seconds=env.databricks.polling_period_seconds,
        min_deferral_seconds=env.databricks.min_deferral_seconds,
        deferrable=True,
        outlets=list(outlets),
    )


def run_job(
    task_id: str, env: Environment, job: str, *, outlets: Sequence[Asset] = ()
) -> DurableRunNowOperator:
    """Run the environment's deployed job ``job`` (a key of ``dataplatform.jobs``, found by its
    name ``<env>.<job>``), with the same retry rules as ``submit_run``: a token per try, durable,
    deferrable. Its notebooks get the run's date and id; ``outlets`` as in ``submit_run``."""
    return DurableRunNowOperator(
        task_id=task_id,
        job_name=job_name(env, job),
        notebook_params=dict(RUN_PARAMS),
        idempotency_token=IDEMPOTENCY_TOKEN,
        databricks_conn_id=env.databricks.conn_id,
        polling_period_seconds=env.databricks.polling_period_seconds,
        min_deferral_seconds=env.databricks.min_deferral_seconds,
        deferrable=True,
        outlets=list(outlets),
    )


def dbt_run(
    task_id: str, env: Environment, wheel: str, *dbt_args: str, outlets: Sequence[Asset] = ()
) -> DurableSubmitRunOperator:
    """The dbt-runner wheel (file name ``wheel`` in the environment's wheel_dir) on a
    single-node cluster; dbt's SQL runs on the SQL warehouse of the environment's secret scope,
    in the environment's catalog."""
    return submit_run(
        task_id,
        env,
        python_wheel_task=dbt_runner_task(env, *dbt_args),
        libraries=[wheel_library(env, wheel)],
        cluster=dbt_cluster(env),
        outlets=outlets,
    )


@contextmanager
def databricks_workflow(
    group_id: str, env: Environment, notebook_params: Mapping[str, str] | None = None
) -> Iterator[DatabricksWorkflowTaskGroup]:
    """Task group whose notebooks run as ONE Databricks job, ``<env>.<dag_id>.<group_id>``,
    sharing one job cluster.

    ``notebook_params`` (plus the run date, run id and the environment's catalog and schemas)
    are sent rendered with run-now, so templates belong here rather than on the member tasks.
    Retries and repair: see ``workflow_group.finish_workflow_group``.
    """
    with DatabricksWorkflowTaskGroup(
        group_id=group_id,
        databricks_conn_id=env.databricks.conn_id,
        job_clusters=job_clusters(env),
        notebook_params={**RUN_PARAMS, **table_params(env), **(notebook_params or {})},
        extra_job_params={"tags": dict(env.cluster.tags)},
    ) as group:
        yield group
    finish_workflow_group(group, env.name, env.timeouts.run_seconds)


def workflow_notebook(
    task_id: str, env: Environment, notebook: str, parameters: Mapping[str, str] | None = None
) -> WorkflowNotebookOperator:
    """A notebook task of the enclosing ``databricks_workflow``, on its shared job cluster."""
    return WorkflowNotebookOperator(
        task_id=task_id,
        notebook_path=notebook_path(env, notebook),
        source="WORKSPACE",
        job_cluster_key=DEFAULT_JOB_CLUSTER_KEY,
        notebook_params=dict(parameters or {}),
        databricks_conn_id=env.databricks.conn_id,
        polling_period_seconds=env.databricks.polling_period_seconds,
        min_deferral_seconds=env.databricks.min_deferral_seconds,
        deferrable=True,
    )


def dbt_models_workflow(
    env: Environment, manifest: Path, wheel: str
) -> tuple[DatabricksWorkflowTaskGroup, ...]:
    """One Airflow task per dbt model of ``manifest`` that the environment's ``dbt.select``
    picks, as one Databricks job on one single-node cluster running the dbt-runner ``wheel``,
    or as several jobs and clusters where Databricks' limits or the environment's
    ``dbt.parallel_tasks_per_cluster`` need them (``dbt_jobs``)."""
    config = DbtWorkflowConfig(
        databricks_conn_id=env.databricks.conn_id,
        job_clusters=job_clusters(env, spec=dbt_cluster(env)),
        wheel=wheel_path(env, wheel),
        target=env.dbt.target,
        environment=env.name,
        run_timeout_seconds=env.timeouts.run_seconds,
        select_tags=selector_tags(env.dbt.select),
        polling_period_seconds=env.databricks.polling_period_seconds,
        min_deferral_seconds=env.databricks.min_deferral_seconds,
        extra_job_params={"tags": dict(env.cluster.tags)},
        limits=JobLimits(parallel_tasks_per_cluster=env.dbt.parallel_tasks_per_cluster),
        models_per_task=env.dbt.models_per_task,
    )
    return dbt_workflow(manifest, config)
