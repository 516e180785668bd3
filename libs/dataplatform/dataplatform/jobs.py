"""Databricks jobs defined as code: the jobs the workspace deploy creates in each environment.

Each job is built from the same cluster and task builders as the DAGs' runs, named
``<env>.<key>`` and tagged as the project's (``managed_by``) in its environment, so the deploy
(``infra/deploy``) can tell the jobs it owns from anyone else's. A DAG triggers one by name
(``operators.run_job``) and sends the run's date and id as notebook parameters, so a definition
holds no Airflow templates: the same job can be run from the Databricks UI with a ``run_date``.
"""

from __future__ import annotations

from typing import Any

from dataplatform.clusters import DEFAULT_JOB_CLUSTER_KEY, job_clusters
from dataplatform.config import Environment
from dataplatform.tasks import notebook_path, table_params

# The tags that mark a job as the project's, per environment (the deploy adds the git sha).
MANAGED_BY_TAG, MANAGED_BY = "managed_by", "dataplatform"
ENVIRONMENT_TAG = "environment"

RAW_CHECKS = "raw_checks"


def job_name(env: Environment, key: str) -> str:
    """``<env>.<key>``: test and prod never share a job, even in one workspace."""
    return f"{env.name}.{key}"


def ownership_tags(env: Environment) -> dict[str, str]:
    return {MANAGED_BY_TAG: MANAGED_BY, ENVIRONMENT_TAG: env.name}


def _job(env: Environment, key: str, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    """Jobs API settings: one shared job cluster, the environment's run timeout and tags."""
    return {
        "name": job_name(env, key),
        "tags": {**env.cluster.tags, **ownership_tags(env)},
        "job_clusters": job_clusters(env),
        "tasks": tasks,
        "timeout_seconds": env.timeouts.run_seconds,
        "max_concurrent_runs": 1,
    }


def _notebook(env: Environment, task_key: str, notebook: str) -> dict[str, Any]:
    """A notebook task on the shared cluster; ``run_date`` and ``run_id`` come with run-now."""
    return {
        "task_key": task_key,
        "job_cluster_key": DEFAULT_JOB_CLUSTER_KEY,
        "notebook_task": {
            "notebook_path": notebook_path(env, notebook),
            "source": "WORKSPACE",
            "base_parameters": table_params(env),
        },
    }


def job_definitions(env: Environment) -> dict[str, dict[str, Any]]:
    """Every job of ``env``, by name, as Jobs API ``JobSettings``."""
    jobs = [
        # The raw tables' checks as a job of their own: triggered after each ingest by the
        # job_raw_checks DAG, and runnable by hand for any day from the Databricks UI.
        _job(env, RAW_CHECKS, [_notebook(env, "check_raw", "check_raw")]),
    ]
    return {job["name"]: job for job in jobs}
