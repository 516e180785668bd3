"""DAGs the e2e tests run against the emulator: one deferrable DatabricksSubmitRunOperator each,
configured as the project's DAGs configure it (tests/e2e/test_e2e_operator_failures.py)."""

from datetime import UTC, datetime

from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
from airflow.sdk import DAG

CONN_ID = "databricks_local"  # the local environment's connection
NOTEBOOK_DIR = "/Workspace/e2e"  # where the tests upload their notebooks


def submit_notebook(task_id: str, notebook: str, conn_id: str = CONN_ID, **json_fields):
    payload = {"run_name": task_id,
               "tasks": [{"task_key": "main",
                          "notebook_task": {"notebook_path": f"{NOTEBOOK_DIR}/{notebook}"}}]}
    return DatabricksSubmitRunOperator(
        task_id=task_id, json=payload | json_fields, databricks_conn_id=conn_id,
        deferrable=True, polling_period_seconds=1, databricks_retry_delay=1,
    )


def one_task_dag(dag_id: str, notebook: str, **kwargs) -> None:
    with DAG(dag_id, schedule=None, start_date=datetime(2025, 1, 1, tzinfo=UTC),
             default_args={"retries": 0}, tags=["e2e"]):
        submit_notebook("run", notebook, **kwargs)


one_task_dag("e2e_failing_notebook", "failing")
one_task_dag("e2e_rate_limited", "succeeding")
one_task_dag("e2e_wrong_token", "succeeding", conn_id="databricks_wrong_token")
one_task_dag("e2e_jar_task", "succeeding", tasks=[{
    "task_key": "main",
    "spark_jar_task": {"main_class_name": "com.example.Main"},
}])
one_task_dag("e2e_wrong_type", "succeeding", timeout_seconds="soon")
