"""Daily ingest notebook: writes raw.orders, raw.customers, raw.payments for the logical date."""

from datetime import UTC, datetime

from airflow.sdk import DAG

from dataplatform import load_environment
from dataplatform.callbacks import default_args
from dataplatform.operators import submit_run
from dataplatform.tasks import notebook_task

env = load_environment()

with DAG(
    dag_id="notebook_orders_ingest",
    schedule="0 2 * * *",
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(env),
    tags=["databricks", "notebook", "raw"],
):
    submit_run("ingest_raw", env, notebook_task=notebook_task(env, "ingest_raw"))
