"""Daily dbt models, one Airflow task each, as one Databricks job on one shared cluster.

A failed model is retried alone (repair) and the cluster starts once per run. The tasks come
from the dbt manifest the build ships beside this file.
"""

from datetime import UTC, datetime

from airflow.sdk import DAG

from dataplatform import load_environment
from dataplatform.callbacks import default_args
from dataplatform.dbt_manifest import bundled_manifest
from dataplatform.operators import dbt_models_workflow

env = load_environment()

with DAG(
    dag_id="dbt_daily_models",
    schedule="0 5 * * *",
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(env),
    tags=["databricks", "dbt"],
):
    dbt_models_workflow(env, bundled_manifest(__file__), select_tags=["daily"])
