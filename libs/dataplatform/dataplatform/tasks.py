"""Databricks task payloads (the ``*_task`` objects of the Jobs API) with environment paths."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dataplatform.config import Environment

# Same dag/task/run -> same token, so a retried task re-attaches to the run it already started
# instead of launching a second one. Clearing the run bumps clear_number: a deliberate re-run
# gets a fresh token. uuid5 keeps it within the Jobs API's 64-character limit.
IDEMPOTENCY_TOKEN = (
    "{{ macros.uuid.uuid5(macros.uuid.NAMESPACE_URL, "
    "[dag.dag_id, task.task_id, run_id, dag_run.clear_number] | join('/')) }}"
)

# Parameters every notebook receives; the notebooks read them with dbutils.widgets.
LOGICAL_DATE_PARAMS = {"logical_date": "{{ ds }}", "run_id": "{{ run_id }}"}


def notebook_path(env: Environment, notebook: str) -> str:
    """Workspace path of a notebook of notebooks/: ``ingest_raw`` -> <notebook_dir>/ingest_raw."""
    return f"{env.databricks.notebook_dir}/{notebook}"


def wheel_path(env: Environment, wheel: str) -> str:
    return f"{env.databricks.wheel_dir}/{wheel}"


def notebook_task(
    env: Environment, notebook: str, parameters: Mapping[str, str] | None = None
) -> dict[str, Any]:
    return {
        "notebook_path": notebook_path(env, notebook),
        "source": "WORKSPACE",
        "base_parameters": {**LOGICAL_DATE_PARAMS, **(parameters or {})},
    }


def python_wheel_task(
    package_name: str, entry_point: str, parameters: Sequence[str] = ()
) -> dict[str, Any]:
    return {
        "package_name": package_name,
        "entry_point": entry_point,
        "parameters": list(parameters),
    }


def spark_python_task(
    env: Environment, python_file: str, parameters: Sequence[str] = ()
) -> dict[str, Any]:
    """A Python file deployed beside the notebooks (``<notebook_dir>/<python_file>``)."""
    return {"python_file": notebook_path(env, python_file), "parameters": list(parameters)}


def wheel_library(env: Environment, wheel: str) -> dict[str, str]:
    return {"whl": wheel_path(env, wheel)}


def dbt_runner_task(env: Environment, *dbt_args: str) -> dict[str, Any]:
    """Run the dbt-runner wheel's ``dbt-runner`` entry point against this environment's target."""
    return python_wheel_task("dbt_runner", "dbt-runner", [*dbt_args, "--target", env.dbt.target])
