"""Airflow DAG: run the deployed Databricks job ``<env>.raw_checks`` (defined in
``dataplatform.jobs``, deployed by ``infra/deploy:workspace``) by name, once the ingest DAG has
updated all raw tables (Assets), for the day the run was queued."""

from dataplatform import load_environment
from dataplatform.assets import raw_tables
from dataplatform.dags import platform_dag
from dataplatform.jobs import RAW_CHECKS
from dataplatform.operators import run_job

env = load_environment()

with platform_dag(
    "job_raw_checks", env, schedule=raw_tables(env), tags=["databricks", "job", "raw"]
):
    run_job("raw_checks", env, RAW_CHECKS)
