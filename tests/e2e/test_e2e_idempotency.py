"""Retries and runs: the same idempotency token returns the same run; the project's operator
re-attaches to an active run and submits afresh after a failed one."""

from __future__ import annotations

import uuid

from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator


def test_same_token_same_run(stack, notebook):
    path = notebook("idempotent", 'dbutils.notebook.exit("once")')
    token = str(uuid.uuid4())

    def submit() -> int:
        operator = DatabricksSubmitRunOperator(
            task_id="ingest", databricks_conn_id="databricks_local", do_xcom_push=False,
            polling_period_seconds=1,
            json={"run_name": "idempotent", "idempotency_token": token,
                  "tasks": [{"task_key": "main", "notebook_task": {"notebook_path": path}}]},
        )
        operator.execute(context={})
        return operator.run_id

    runs_before = len(stack.emulator.usage()["runs"])
    first, retried = submit(), submit()
    assert retried == first
    assert len(stack.emulator.usage()["runs"]) == runs_before + 1


class TaskState(dict):
    """What a task instance's ``task_state_store`` keeps between its tries."""

    def set(self, key, value):
        self[key] = value


def durable_try(path: str, store: TaskState, try_number: int) -> int:
    """One deferrable try of the project's submit operator; the run id it waits for."""
    from airflow.exceptions import TaskDeferred

    from dataplatform.operators import DurableSubmitRunOperator

    operator = DurableSubmitRunOperator(
        task_id="ingest", databricks_conn_id="databricks_local", do_xcom_push=False,
        deferrable=True, polling_period_seconds=1, min_deferral_seconds=1,
        json={"run_name": "durable", "idempotency_token": f"durable-{path}-{try_number}",
              "tasks": [{"task_key": "main", "notebook_task": {"notebook_path": path}}]},
    )
    try:
        operator.execute(context={"task_state_store": store})
    except TaskDeferred as deferred:
        return deferred.trigger.run_id
    return operator.run_id


def test_retry_after_a_failed_run_submits_a_fresh_run(stack, workspace, notebook):
    from conftest import wait_for_run

    path = notebook("fails", 'raise ValueError("boom")')
    store = TaskState()
    first = durable_try(path, store, try_number=1)
    assert wait_for_run(workspace, first).state.result_state.value == "FAILED"
    retried = durable_try(path, store, try_number=2)
    assert retried != first
    assert store["databricks_run_id"] == retried


def test_retry_while_the_run_is_active_reattaches(stack, workspace, notebook):
    from conftest import wait_for_run

    path = notebook("slow", "import time\ntime.sleep(600)")  # canceled below
    store = TaskState()
    runs_before = len(stack.emulator.usage()["runs"])
    first = durable_try(path, store, try_number=1)
    assert durable_try(path, store, try_number=2) == first  # e.g. the worker was lost
    assert len(stack.emulator.usage()["runs"]) == runs_before + 1
    workspace.jobs.cancel_run(first)
    wait_for_run(workspace, first)
