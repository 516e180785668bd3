"""Databricks task payloads (the ``*_task`` objects of the Jobs API) with environment paths."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dataplatform.config import Environment

# One token per try of a task instance: its id, which Airflow makes anew for every try. A retry
# after a FAILED or CANCELED run submits a fresh run (Databricks returns the existing run for a
# known token whatever its state), and so does a DAG run deleted and created again under the same
# run_id (its tasks start again at try 1: a token of run_id and try number would get back the old
# run, and the task would succeed without doing its work). A retry while the run is still active
# re-attaches to it through the run id the operator keeps in task state (``operators.submit_run``),
# not through the token. A UUID is within the Jobs API's 64-character limit.
IDEMPOTENCY_TOKEN = "{{ ti.id }}"

# The day a run processes: its logical date, or, for runs that have none (asset-triggered runs,
# manual runs triggered with ``logical_date: null``), the day it was queued to run.
RUN_DATE = "{{ (dag_run.logical_date or dag_run.run_after).strftime('%Y-%m-%d') }}"

# Parameters every notebook receives; the notebooks read them with dbutils.widgets.
RUN_PARAMS = {"run_date": RUN_DATE, "run_id": "{{ run_id }}"}


def table_params(env: Environment) -> dict[str, str]:
    """Where the notebooks read and write: the catalog and schemas of the environment."""
    uc = env.unity_catalog
    return {"catalog": uc.catalog, "raw_schema": uc.raw_schema, "curated_schema": uc.curated_schema}


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
        "base_parameters": {**RUN_PARAMS, **table_params(env), **(parameters or {})},
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
