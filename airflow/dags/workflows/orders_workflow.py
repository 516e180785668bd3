"""Airflow DAG: check the raw tables, then build curated.daily_revenue; one job, one cluster.

Runs when the ingest DAG has updated all raw tables (Assets), for the day the run was queued.
"""

from dataplatform import load_environment
from dataplatform.assets import raw_tables
from dataplatform.dags import platform_dag
from dataplatform.operators import databricks_workflow, workflow_notebook

env = load_environment()

with platform_dag(
    "workflow_orders_daily",
    env,
    schedule=raw_tables(env),
    tags=["databricks", "workflow", "curated"],
):
    with databricks_workflow("orders_job", env):
        check = workflow_notebook("check_raw", env, "check_raw")
        transform = workflow_notebook("transform_daily", env, "transform_daily")
        check >> transform
