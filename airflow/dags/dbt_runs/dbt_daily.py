"""Airflow DAG: daily dbt build of the `daily` models, by the dbt-runner wheel on a job cluster."""

from dataplatform import load_environment
from dataplatform.dags import platform_dag
from dataplatform.operators import submit_run
from dataplatform.tasks import dbt_runner_task, wheel_library

env = load_environment()

with platform_dag("dbt_daily_build", env, schedule="0 4 * * *", tags=["databricks", "dbt"]):
    submit_run(
        "dbt_build",
        env,
        python_wheel_task=dbt_runner_task(env, "build", "--select", "tag:daily"),
        libraries=[wheel_library(env, env.dbt.runner_wheel)],
    )
