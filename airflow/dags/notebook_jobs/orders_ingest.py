"""Airflow DAG: the daily ingest notebook writes raw.orders, raw.customers, raw.payments."""

from dataplatform import load_environment
from dataplatform.dags import platform_dag
from dataplatform.operators import submit_run
from dataplatform.tasks import notebook_task

env = load_environment()

with platform_dag(
    "notebook_orders_ingest", env, schedule="0 2 * * *", tags=["databricks", "notebook", "raw"]
):
    submit_run("ingest_raw", env, notebook_task=notebook_task(env, "ingest_raw"))
