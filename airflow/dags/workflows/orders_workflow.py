"""Check the day's raw tables, then build curated.daily_revenue: one job, one cluster."""

from datetime import UTC, datetime

from airflow.sdk import DAG

from dataplatform import load_environment
from dataplatform.callbacks import default_args
from dataplatform.operators import databricks_workflow, workflow_notebook

env = load_environment()

with DAG(
    dag_id="workflow_orders_daily",
    schedule="0 3 * * *",
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(env),
    tags=["databricks", "workflow", "curated"],
):
    with databricks_workflow("orders_job", env):
        check = workflow_notebook("check_raw", env, "check_raw")
        transform = workflow_notebook("transform_daily", env, "transform_daily")
        check >> transform
