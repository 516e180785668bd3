"""Daily dbt build of the models tagged ``daily``, run by the dbt-runner wheel on a job cluster."""

from datetime import UTC, datetime

from airflow.sdk import DAG

from dataplatform import load_environment
from dataplatform.callbacks import default_args
from dataplatform.operators import submit_run
from dataplatform.tasks import dbt_runner_task, wheel_library

env = load_environment()

with DAG(
    dag_id="dbt_daily_build",
    schedule="0 4 * * *",
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(env),
    tags=["databricks", "dbt"],
):
    submit_run(
        "dbt_build",
        env,
        python_wheel_task=dbt_runner_task(env, "build", "--select", "tag:daily"),
        libraries=[wheel_library(env, env.dbt.runner_wheel)],
    )
