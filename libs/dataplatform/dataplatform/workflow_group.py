"""What every DatabricksWorkflowTaskGroup of the project shares."""

from __future__ import annotations

from airflow.providers.databricks.operators.databricks_workflow import (
    DatabricksWorkflowTaskGroup,
)


def without_launch_retries(group: DatabricksWorkflowTaskGroup) -> DatabricksWorkflowTaskGroup:
    """No Airflow retries for the group's ``launch`` task: the Jobs run-now call it makes carries
    no idempotency token, so each retry would start another job run. Transient API errors are
    still retried by the Databricks hook."""
    group.children[f"{group.group_id}.launch"].retries = 0
    return group
