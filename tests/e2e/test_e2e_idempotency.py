"""A retried submit with the same idempotency token re-attaches to the run it already started."""

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
