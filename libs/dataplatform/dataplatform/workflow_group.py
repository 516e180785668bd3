"""What every DatabricksWorkflowTaskGroup of the project shares: an environment-qualified job
name, no Airflow retries for ``launch`` or the member tasks, and the run's timeout."""

from __future__ import annotations

from airflow.providers.databricks.operators.databricks_workflow import (
    DatabricksWorkflowTaskGroup,
    _CreateDatabricksWorkflowOperator,
)


class _EnvironmentJobLaunch(_CreateDatabricksWorkflowOperator):
    """The provider's ``launch`` task, finding and naming its job ``<env>.<dag_id>.<group_id>``
    (the provider names it ``<dag_id>.<group_id>``, the same in every environment)."""

    job_name_prefix: str = ""

    @property
    def job_name(self) -> str:
        return f"{self.job_name_prefix}.{super().job_name}"


def finish_workflow_group(
    group: DatabricksWorkflowTaskGroup, environment: str, run_timeout_seconds: int
) -> DatabricksWorkflowTaskGroup:
    """Call once the group's ``with`` block has closed.

    No Airflow retries, neither for ``launch`` (its Jobs run-now call carries no idempotency
    token, so each retry would start another job run) nor for the member tasks (a member task
    only watches its Databricks task run, so a retry would watch the same failed run again).
    A failed task is re-run by repairing the Databricks job run (Repair run on the run page the
    launch task links to, or jobs/runs/repair) and then clearing the failed Airflow tasks, but not
    ``launch``: each member task watches the latest attempt of its Databricks task. Transient API
    errors are still retried by the Databricks hook.
    """
    launch = group.children[f"{group.group_id}.launch"]
    launch.__class__ = _EnvironmentJobLaunch
    launch.job_name_prefix = environment
    launch.extra_job_params = {**launch.extra_job_params, "timeout_seconds": run_timeout_seconds}
    for task in group.children.values():
        task.retries = 0
    return group
