"""A broken dbt model fails the Airflow task, and what the task reports names the model."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from airflow.exceptions import AirflowException
from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
from conftest import artifact, dbt_runner_wheel

from dataplatform import load_environment
from dataplatform.tasks import dbt_runner_task, wheel_library


@pytest.fixture
def broken_project(tmp_path):
    """The project the wheel ships, with the orders mart selecting a column that does not exist."""
    with zipfile.ZipFile(artifact(dbt_runner_wheel())) as wheel:
        members = [n for n in wheel.namelist() if n.startswith("dbt_runner/project/")]
        wheel.extractall(tmp_path, members)
    project = tmp_path / "dbt_runner" / "project"
    mart = project / "models" / "marts" / "orders.sql"
    mart.write_text("select no_such_column from {{ ref('stg_raw__orders') }}\n")
    return project


def test_broken_model_fails_the_task_naming_the_model(stack, broken_project):
    env = load_environment("local")
    task = dbt_runner_task(env, "build", "--select", "orders", "--project-dir", str(broken_project))
    operator = DatabricksSubmitRunOperator(
        task_id="dbt_build", databricks_conn_id=env.databricks.conn_id, do_xcom_push=False,
        polling_period_seconds=1,
        json={"run_name": "dbt_build_broken",
              "tasks": [{"task_key": "dbt", "python_wheel_task": task,
                         "libraries": [wheel_library(env, Path(dbt_runner_wheel()).name)],
                         "new_cluster": {"spark_version": "16.4.x-scala2.12",
                                         "node_type_id": "local", "num_workers": 1}}]},
    )
    with pytest.raises(AirflowException) as failure:
        operator.execute(context={})
    message = str(failure.value)
    assert "FAILED" in message
    assert "model orders" in message, message
