"""Airflow DAG: daily dbt models, one task each, as one Databricks job on one shared cluster.

A failed model is retried alone (repair) and the cluster starts once per run. The tasks come
from the dbt manifest the build ships beside this file.
"""

from dataplatform import load_environment
from dataplatform.dags import platform_dag
from dataplatform.dbt_manifest import bundled_manifest
from dataplatform.operators import dbt_models_workflow

env = load_environment()

with platform_dag("dbt_daily_models", env, schedule="0 5 * * *", tags=["databricks", "dbt"]):
    dbt_models_workflow(env, bundled_manifest(__file__), select_tags=["daily"])
