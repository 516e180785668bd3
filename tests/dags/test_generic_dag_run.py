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


@pytest.mark.parametrize(
    ("logical_date", "day"),
    [(datetime(2025, 3, 14, tzinfo=UTC), "2025-03-14"), (None, "2025-03-16")],
)
def test_xcom_handoff_runs_with_or_without_a_logical_date(metadata_db, dag_bag, logical_date, day):
    from dataplatform.dags import dag_test

    dag = dag_bag("local").dags["generic_xcom_handoff"]
    run_after = datetime(2025, 3, 16, 6, tzinfo=UTC)
    dag_run = dag_test(dag, logical_date=logical_date, run_after=run_after)
    tis = {ti.task_id: ti for ti in dag_run.get_task_instances()}
    assert {task_id: ti.state for task_id, ti in tis.items()} == {
        "plan_batch": "success",
        "count_files": "success",
        "report": "success",
    }
    assert tis["report"].xcom_pull(task_ids="report") == f"orders-{day}: 3 files"
