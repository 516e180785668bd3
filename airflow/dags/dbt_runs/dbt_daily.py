"""Airflow DAG: dbt build of the environment's selection (``dbt.select``) by the dbt-runner wheel
on a single-node job cluster, sending its SQL to the environment's SQL warehouse.

Runs when the ingest DAG has updated all raw tables (Assets); its own Asset starts
dbt_daily_models.
"""

from dataplatform import load_environment
from dataplatform.assets import dbt_build, raw_tables
from dataplatform.dags import platform_dag
from dataplatform.dbt_manifest import bundled_runner_wheel
from dataplatform.operators import dbt_run

env = load_environment()

with platform_dag("dbt_daily_build", env, schedule=raw_tables(env), tags=["databricks", "dbt"]):
    dbt_run(
        "dbt_build",
        env,
        bundled_runner_wheel(__file__),
        "build",
        "--select",
        env.dbt.select,
        outlets=[dbt_build(env)],
    )
