"""The provider's operators against the emulator when things go wrong: failing notebooks,
cancels, rate limits, bad payloads and bad tokens behave as they would on Databricks."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from airflow.exceptions import AirflowException, TaskDeferred
from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
from conftest import wait_for_run

FAILING = 'raise ValueError("orders file for 2025-06-01 is empty")'
SLEEPING = 'import time\nprint("notebook is sleeping", flush=True)\ntime.sleep(300)'
SUCCEEDING = 'dbutils.notebook.exit("done")'


def test_failing_notebook_fails_the_task_with_the_notebook_error(notebook, run_task):
    notebook("failing", FAILING)
    outcome = run_task("e2e_failing_notebook")
    assert outcome.state == "failed"
    assert "ValueError: orders file for 2025-06-01 is empty" in outcome.output


def test_on_kill_cancels_the_run_and_the_trigger_reports_it(stack, workspace, notebook):
    notebook_path = notebook("sleeping", SLEEPING)
    operator = DatabricksSubmitRunOperator(
        task_id="sleeping", databricks_conn_id="databricks_local", deferrable=True,
        polling_period_seconds=1, do_xcom_push=False,
        json={"run_name": "sleeping",
              "tasks": [{"task_key": "main", "notebook_task": {"notebook_path": notebook_path}}]},
    )
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context={})
    stack.wait_for_log(operator.run_id, "notebook is sleeping")
    started = time.monotonic()
    operator.on_kill()

    async def first_event():
        async for event in deferred.value.trigger.run():
            return event

    event = asyncio.run(asyncio.wait_for(first_event(), timeout=60))
    assert time.monotonic() - started < 20, "cancel did not stop the notebook promptly"
    run = wait_for_run(workspace, operator.run_id)
    assert run.state.result_state.value == "CANCELED"
    assert run.tasks[0].state.result_state.value == "CANCELED"
    with pytest.raises(AirflowException, match="CANCELED"):
        operator.execute_complete(context=None, event=event.payload)


def test_429_bursts_are_retried_by_the_provider(stack, notebook, run_task):
    notebook("succeeding", SUCCEEDING)
    stack.inject_fault(endpoint="jobs/runs/submit", status=429, count=2)
    stack.inject_fault(endpoint="jobs/runs/get", status=429, count=2)
    outcome = run_task("e2e_rate_limited")
    assert outcome.state == "success", outcome.output[-3000:]
    assert stack.pending_faults() == []
    # Each 429 was one failed attempt the hook logged and retried; none was left over.
    assert outcome.output.count("API Request to Databricks failed") == 4


@pytest.mark.parametrize(
    ("dag_id", "error_code", "named"),
    [("e2e_jar_task", "INVALID_PARAMETER_VALUE", "spark_jar_task needs a JVM"),
     ("e2e_wrong_type", "MALFORMED_REQUEST", "timeout_seconds")],
)
def test_bad_payload_is_refused_with_400_naming_the_field(run_task, dag_id, error_code, named):
    outcome = run_task(dag_id)
    assert outcome.state == "failed"
    assert error_code in outcome.output
    assert "Status Code: 400" in outcome.output
    assert named in outcome.output


def test_wrong_token_is_refused(stack, monkeypatch, run_task):
    wrong = json.loads(stack.emulator.airflow_connection()) | {"password": "not-the-token"}
    monkeypatch.setenv("AIRFLOW_CONN_DATABRICKS_WRONG_TOKEN", json.dumps(wrong))
    outcome = run_task("e2e_wrong_token")
    assert outcome.state == "failed"
    assert "Status Code: 403" in outcome.output
    assert "PERMISSION_DENIED" in outcome.output

    status, body = stack.call("GET", "/api/2.2/jobs/list", token=None)
    assert (status, body["error_code"]) == (401, "UNAUTHENTICATED")
