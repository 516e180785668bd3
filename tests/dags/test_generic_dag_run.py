"""Runs the generic Python -> Bash -> Python DAG for real with dag.test() (needs the metadata DB,
so this module alone migrates a SQLite DB in its own AIRFLOW_HOME)."""

import subprocess
import sys
from datetime import UTC, datetime

import pytest


@pytest.fixture(scope="module")
def metadata_db():
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True
    )


def test_xcom_handoff_runs(metadata_db, dag_bag):
    dag = dag_bag("local").dags["generic_xcom_handoff"]
    dag_run = dag.test(logical_date=datetime(2025, 3, 14, tzinfo=UTC))
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert states == {"plan_batch": "success", "count_files": "success", "report": "success"}
