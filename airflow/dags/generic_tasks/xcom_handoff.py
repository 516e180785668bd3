"""Python -> Bash -> Python hand-off through XCom (TaskFlow), with no Databricks involved."""

from airflow.sdk import dag, task

from dataplatform import load_environment
from dataplatform.dags import platform_dag_args

env = load_environment()


@dag(dag_id="generic_xcom_handoff", **platform_dag_args(env, "@daily", ["generic", "xcom"]))
def xcom_handoff():
    @task
    def plan_batch(dag_run=None) -> dict[str, object]:
        # Every run has run_after; asset-triggered and some manual runs have no logical date.
        day = (dag_run.logical_date or dag_run.run_after).date()
        return {
            "batch_id": f"orders-{day.isoformat()}",
            "files": ["orders.csv", "customers.csv", "payments.csv"],
        }

    @task.bash
    def count_files(batch: dict[str, object]) -> str:
        # The last line printed becomes this task's XCom.
        return f"echo {batch['batch_id']}; echo {len(batch['files'])}"

    @task
    def report(batch: dict[str, object], file_count: str) -> str:
        if int(file_count) != len(batch["files"]):
            raise ValueError(f"bash counted {file_count} files, expected {len(batch['files'])}")
        return f"{batch['batch_id']}: {file_count} files"

    batch = plan_batch()
    report(batch, count_files(batch))


xcom_handoff()
