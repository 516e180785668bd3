"""The MWAA bundle of the `test` environment runs green against the emulator set up as the test
workspace.

The DAG files are those of the packaged bundle (`./pants package infra/mwaa:test` writes
mwaa/test/dags/ with dbt_runs/dbt_runner_wheel.txt and manifest.json), parsed and run under the
e2e Airflow with DATAPLATFORM_ENV=test. That Airflow is the airflow resolve, the pins the
bundle's requirements.txt installs (tests/mwaa proves the bundle installs on MWAA's runtime);
`dataplatform` comes from the sources the bundle's plugins.zip wheel is built from. The emulator
holds what the test workspace would: the catalog `dataplatform_test`, the wheels volume, the
notebooks in test's notebook_dir, the runner wheel the bundle names, the connection
`databricks_test` and the dbt secret scope with the keys of test.toml's [dbt.credentials].
Only Airflow's poll interval is shortened (test.toml polls every 30 s); payloads are untouched.

dbt: dbt-databricks reaches the emulator's SQL warehouse but stops at the connector's metadata
command `SHOW TABLES IN CATALOG ... SCHEMA LIKE ...`, which Sail cannot parse, so the dbt DAGs
are imported and checked for the test payloads, and their credentials path is proven with
`dbt-runner debug --target test` (dbt's connection check: profile, `select 1` on the
warehouse) in the dbt_daily_build task's own payload. dbt signs in as on the test workspace:
OAuth M2M with the service principal's client id and secret from the scope. One emulator-only
change to that payload's cluster env, nothing else: DBT_DATABRICKS_CONNECTION_PARAMETERS
selects the connector's SEA backend with inline results. dbt's session runs in the test catalog
(dataplatform_test). The tables the notebooks wrote are
read on a cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import DBT_RUNNER_NAME_FILE, NOTEBOOKS, artifact, dbt_runner_wheel, wait_for_run
from local_stack.airflow_home import databricks_connection
from local_stack.publish import publish

BUNDLE_DAGS = "mwaa/test/dags"  # dist-relative, as the packaged bundle lays it out
LOGICAL_DATE = datetime(2025, 4, 2, tzinfo=UTC)
SEA_CONNECTION = {"use_sea": True, "use_cloud_fetch": False, "enable_telemetry": False}


def bundle_dags_dir() -> Path:
    """dags/ of the packaged test bundle (in the Pants sandbox, else dist/)."""
    return artifact(f"{BUNDLE_DAGS}/dbt_runs/dbt_runner_wheel.txt").parents[1]


@pytest.fixture(scope="module")
def test_env(stack, workspace) -> Iterator:
    """DATAPLATFORM_ENV=test for this module, and the emulator set up as the test workspace."""
    from databricks.sdk.errors import ResourceConflict
    from dataplatform import load_environment

    env = load_environment("test")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATAPLATFORM_ENV", "test")
        for name, value in databricks_connection(stack.emulator, "test").items():
            patch.setenv(name, value)
        try:
            workspace.catalogs.create(env.unity_catalog.catalog)
        except ResourceConflict:
            pass
        # Also fills the dbt scope: the warehouse's host and HTTP path, and the emulator's
        # service principal under test.toml's client id and secret keys.
        publish(stack.emulator, NOTEBOOKS, [artifact(dbt_runner_wheel())], environment="test")
        yield env


def bundle_dag(relative_path: str, dag_id: str):
    """One DAG of the packaged bundle, parsed as the DAG processor does, polling every second.
    The dbt DAGs read the wheel name and manifest shipped beside them (the overrides the e2e
    session sets for the source DAGs, which dag.test() re-parses, are lifted while parsing)."""
    from airflow.dag_processing.dagbag import DagBag

    dags = bundle_dags_dir()
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("DATAPLATFORM_DBT_RUNNER_WHEEL", raising=False)
        patch.delenv("DATAPLATFORM_DBT_MANIFEST", raising=False)
        bag = DagBag(dag_folder=dags / relative_path, bundle_path=dags)
    assert not bag.import_errors, bag.import_errors
    dag = bag.dags[dag_id]
    for task in dag.tasks:
        if hasattr(task, "polling_period_seconds"):
            task.polling_period_seconds = 1
    return dag


def run_green(dag) -> None:
    from dataplatform.dags import dag_test

    dag_run = dag_test(dag, logical_date=LOGICAL_DATE)
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert dag_run.state == "success", f"{dag.dag_id}: {states}"


READ_BACK = """
dbutils.widgets.text("day", "")
day = dbutils.widgets.get("day")
raw = spark.table("dataplatform_test.raw.orders").where(f"_ingest_date = DATE'{day}'").count()
revenue = spark.table("dataplatform_test.curated.daily_revenue").where(f"order_date = DATE'{day}'")
dbutils.notebook.exit(f"raw={raw} orders={revenue.first()['orders']}")
"""


def test_generic_dag_runs_green(test_env):
    run_green(bundle_dag("generic_tasks/xcom_handoff.py", "generic_xcom_handoff"))


def test_ingest_then_workflow_write_the_test_catalog_under_test_names(
    test_env, workspace, notebook
):
    from databricks.sdk.service.jobs import NotebookTask, SubmitTask

    run_green(bundle_dag("notebook_jobs/orders_ingest.py", "notebook_orders_ingest"))
    names = {run.run_name for run in workspace.jobs.list_runs()}
    assert "test.notebook_orders_ingest.ingest_raw" in names
    run_green(bundle_dag("workflows/orders_workflow.py", "workflow_orders_daily"))
    (job,) = workspace.jobs.list(name="test.workflow_orders_daily.orders_job")
    assert job.settings.timeout_seconds == test_env.timeouts.run_seconds

    task = SubmitTask(task_key="read", notebook_task=NotebookTask(
        notebook_path=notebook("read_test_catalog", READ_BACK),
        base_parameters={"day": LOGICAL_DATE.date().isoformat()}))
    run_id = workspace.jobs.submit(run_name="read", tasks=[task]).response.run_id
    run = wait_for_run(workspace, run_id)
    output = workspace.jobs.get_run_output(run.tasks[0].run_id)
    # ingest_raw writes 6 orders a day; transform_daily counts them.
    assert output.notebook_output.result == "raw=6 orders=6", run.state.state_message


def test_dbt_dags_carry_the_test_payloads(test_env):
    from dataplatform.clusters import dbt_cluster
    from dataplatform.tasks import dbt_runner_task, wheel_path

    wheel = wheel_path(test_env, artifact(DBT_RUNNER_NAME_FILE).read_text().strip())
    build = bundle_dag("dbt_runs/dbt_daily.py", "dbt_daily_build").task_dict["dbt_build"]
    assert build.json["new_cluster"] == dbt_cluster(test_env)
    assert build.json["python_wheel_task"] == dbt_runner_task(
        test_env, "build", "--select", test_env.dbt.select)
    assert build.json["libraries"] == [{"whl": wheel}]

    models = bundle_dag("dbt_runs/dbt_models.py", "dbt_daily_models")
    (cluster,) = models.task_dict["dbt.launch"].job_clusters
    assert cluster["new_cluster"] == dbt_cluster(test_env)
    model_tasks = [task for task in models.tasks if hasattr(task, "task_config")]
    assert model_tasks
    for task in model_tasks:
        assert task.task_config["libraries"] == [{"whl": wheel}]
        assert task.task_config["python_wheel_task"]["parameters"][-2:] == ["--target", "test"]


def emulator_dbt_cluster(env) -> dict:
    """The test environment's dbt cluster as the project's builder makes it, with the connector
    on its SEA backend (see the module docstring)."""
    from dataplatform.clusters import dbt_cluster

    cluster = dbt_cluster(env)
    cluster["spark_env_vars"].update(
        DBT_DATABRICKS_CONNECTION_PARAMETERS=json.dumps(SEA_CONNECTION)
    )
    return cluster


def test_dbt_test_target_connects_with_credentials_from_the_secret_scope(
    test_env, stack, workspace
):
    from dataplatform.tasks import dbt_runner_task

    dag = bundle_dag("dbt_runs/dbt_daily.py", "dbt_daily_build")
    task = dag.task_dict["dbt_build"]
    task.json["python_wheel_task"] = dbt_runner_task(test_env, "debug")
    task.json["new_cluster"] = emulator_dbt_cluster(test_env)
    run_green(dag)

    (run,) = (run for run in workspace.jobs.list_runs()
              if run.run_name == "test.dbt_daily_build.dbt_build")
    scope = test_env.dbt.credentials.scope
    sent = workspace.jobs.get_run(run.run_id).tasks[0].new_cluster.spark_env_vars
    # Airflow sent references only; the emulator resolved them from the scope at cluster start.
    assert sent["DATABRICKS_HOST"] == f"{{{{secrets/{scope}/host}}}}"
    credentials = test_env.dbt.credentials
    assert sent["DATABRICKS_CLIENT_ID"] == f"{{{{secrets/{scope}/{credentials.client_id_key}}}}}"
    assert "DATABRICKS_TOKEN" not in sent
    stack.wait_for_log(run.run_id, "OK connection ok")
    stack.wait_for_log(run.run_id, "All checks passed!")
