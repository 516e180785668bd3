"""Airflow in a throw-away AIRFLOW_HOME, the DAG bundle per environment, and template rendering.

No test here needs the metadata DB: DAGs are parsed with a DagBag and templates are rendered with
the Task SDK's RuntimeTaskInstance, as a worker would, without SQLite init.
"""

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.airflow_home import remove_temporary_home, use_temporary_home

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "airflow" / "dags"
# The dbt manifest the build ships beside the dbt DAGs; tests/dbt keeps this copy up to date.
DBT_MANIFEST = REPO / "tests" / "dbt" / "fixtures" / "manifest.json"
DBT_RUNNER_WHEEL = "dbt_runner-0.1.0+0123456789ab-py3-none-any.whl"  # as the build names it
LOGICAL_DATE = datetime(2025, 3, 14, 2, tzinfo=UTC)
RUN_ID = "scheduled__2025-03-14T02:00:00+00:00"



def pytest_configure(config):
    use_temporary_home()
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
    os.environ["DATAPLATFORM_DBT_MANIFEST"] = str(DBT_MANIFEST)
    os.environ["DATAPLATFORM_DBT_RUNNER_WHEEL"] = DBT_RUNNER_WHEEL


def pytest_unconfigure(config):
    remove_temporary_home()


@pytest.fixture
def dag_bag(monkeypatch):
    """Return ``load(env_name)``: a DagBag of the whole bundle parsed under that environment."""
    from airflow.dag_processing.dagbag import DagBag

    def load(env_name: str = "local") -> DagBag:
        monkeypatch.setenv("DATAPLATFORM_ENV", env_name)
        return DagBag(dag_folder=DAGS_FOLDER, bundle_path=DAGS_FOLDER)

    return load


@pytest.fixture
def render():
    """Return ``render(task, run_id=..., try_number=..., logical_date=..., run_after=...,
    ti_id=...)``: the task with its template fields rendered as a worker renders them before
    execute().

    ``logical_date=None`` is a run without one (asset-triggered, or manual with a null date):
    Airflow then leaves ``ds``, ``logical_date`` and the data interval out of the context.
    """
    from airflow.sdk.api.datamodels._generated import DagRun, TIRunContext
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    def _render(task, run_id=RUN_ID, try_number=1, logical_date=LOGICAL_DATE, run_after=None,
                ti_id=None):
        task = task.prepare_for_execution()  # rendering mutates: keep the DAG's task pristine
        # Airflow's id of this try of the task instance (new for every try and every task
        # instance made anew): random unless the test names it.
        ti_id = ti_id or uuid.uuid4()
        run_after = run_after or logical_date or LOGICAL_DATE
        dag_run = DagRun(
            dag_id=task.dag_id,
            run_id=run_id,
            logical_date=logical_date,
            data_interval_start=logical_date,
            data_interval_end=logical_date,
            run_after=run_after,
            start_date=run_after,
            end_date=None,
            clear_number=0,
            run_type="scheduled" if logical_date else "asset_triggered",
            state="running",
            consumed_asset_events=[],
            partition_key=None,
        )
        ti = RuntimeTaskInstance.model_construct(
            id=ti_id,
            task_id=task.task_id,
            dag_id=task.dag_id,
            run_id=run_id,
            try_number=try_number,
            dag_version_id=uuid.uuid4(),
            map_index=-1,
            task=task,
            max_tries=task.retries,
            start_date=LOGICAL_DATE,
            _ti_context_from_server=TIRunContext(dag_run=dag_run, max_tries=task.retries),
        )
        return ti.render_templates(context=ti.get_template_context())

    return _render
