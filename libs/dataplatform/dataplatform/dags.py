"""The DAG settings every project DAG shares, so DAG files state only what differs."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import DAG, Asset

from dataplatform.callbacks import default_args, late_run_deadline
from dataplatform.config import Environment

# Fixed and in the past: with catchup off, only the latest interval runs after a deploy.
START_DATE = datetime(2025, 1, 1, tzinfo=UTC)


Schedule = str | Collection[Asset]


def platform_dag_args(env: Environment, schedule: Schedule, tags: Sequence[str]) -> dict:
    """Keyword arguments for ``DAG``/``@dag``: no backfill on deploy, one run at a time,
    the environment's owner, retries, failure alerts and late-run deadline. ``schedule`` is a
    cron expression or the Assets whose updates (all of them) start a run."""
    return {
        "schedule": schedule if isinstance(schedule, str) else list(schedule),
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "default_args": default_args(env),
        "deadline": late_run_deadline(env),
        "tags": list(tags),
    }


def platform_dag(dag_id: str, env: Environment, schedule: Schedule, tags: Sequence[str]) -> DAG:
    """``with platform_dag(...):`` declares a project DAG (registered by the context manager)."""
    return DAG(dag_id=dag_id, **platform_dag_args(env, schedule, tags))


def dag_test(dag: DAG, **test_kwargs: Any) -> Any:
    """``dag.test(**test_kwargs)`` (one in-process run, as the local stack and tests do) of a
    project DAG; returns its DagRun.

    dag.test() runs no scheduler loop, so it never evaluates deadlines, and Airflow 3.3.1's
    dag.test() fails to finish a successful run of a DAG that declares one (it reads the
    in-memory DAG's deadline alerts as database ids: "'dict' object has no attribute 'hex'").
    The run therefore goes without the late-run deadline, which is put back afterwards.
    """
    deadline, dag.deadline = dag.deadline, None
    try:
        return dag.test(**test_kwargs)
    finally:
        dag.deadline = deadline
