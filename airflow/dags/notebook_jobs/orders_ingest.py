"""Airflow DAG: the daily ingest notebook writes the raw customers, orders and payments tables
and, on success, updates their Assets, which start the DAGs that read them."""

from dataplatform import load_environment
from dataplatform.assets import raw_tables
from dataplatform.dags import platform_dag
from dataplatform.operators import submit_run
from dataplatform.tasks import notebook_task

env = load_environment()

with platform_dag(
    "notebook_orders_ingest", env, schedule="0 2 * * *", tags=["databricks", "notebook", "raw"]
):
    submit_run(
        "ingest_raw", env, notebook_task=notebook_task(env, "ingest_raw"), outlets=raw_tables(env)
    )
