"""The bundle's DAGs run for real (ingest, then dbt or the workflow job); tables read back."""

from __future__ import annotations

from datetime import UTC, datetime

from conftest import DAGS_FOLDER, wait_for_run

LOGICAL_DATE = datetime(2025, 3, 14, tzinfo=UTC)

COUNT_ORDERS = """
dbutils.widgets.text("day", "")
day = dbutils.widgets.get("day")
raw = spark.table("hive_metastore.raw.orders").where(f"_ingest_date = DATE'{day}'").count()
mart = spark.table("hive_metastore.analytics.orders").where(f"order_date = DATE'{day}'").count()
dbutils.notebook.exit(f"raw={raw} mart={mart}")
"""

READ_REVENUE = """
dbutils.widgets.text("day", "")
day = dbutils.widgets.get("day")
revenue = spark.table("hive_metastore.curated.daily_revenue").where(f"order_date = DATE'{day}'")
dbutils.notebook.exit(f"orders={revenue.first()['orders']}")
"""


def bundle_dag(relative_path: str, dag_id: str):
    """One DAG of the bundle, parsed from its file as the DAG processor does."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=DAGS_FOLDER / relative_path, bundle_path=DAGS_FOLDER)
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id]


def test_ingest_then_dbt_build_leave_tables_a_notebook_reads_back(stack, workspace, notebook):
    from databricks.sdk.service.jobs import NotebookTask, SubmitTask
    from dataplatform.dags import dag_test

    for path, dag_id in [("notebook_jobs/orders_ingest.py", "notebook_orders_ingest"),
                         ("dbt_runs/dbt_daily.py", "dbt_daily_build")]:
        dag_run = dag_test(bundle_dag(path, dag_id), logical_date=LOGICAL_DATE)
        assert dag_run.state == "success", f"{dag_id}: {dag_run.state}"

    reader = notebook("count_orders", COUNT_ORDERS)
    task = SubmitTask(task_key="count", notebook_task=NotebookTask(
        notebook_path=reader, base_parameters={"day": LOGICAL_DATE.date().isoformat()}))
    run_id = workspace.jobs.submit(run_name="count", tasks=[task]).response.run_id
    run = wait_for_run(workspace, run_id)
    output = workspace.jobs.get_run_output(run.tasks[0].run_id)
    # ingest_raw writes 6 orders a day; dbt's orders mart keeps every one of them.
    assert output.notebook_output.result == "raw=6 mart=6", run.state.state_message


def test_ingest_then_workflow_job_named_for_the_environment(stack, workspace, notebook):
    from databricks.sdk.service.jobs import NotebookTask, SubmitTask
    from dataplatform.dags import dag_test

    for path, dag_id in [("notebook_jobs/orders_ingest.py", "notebook_orders_ingest"),
                         ("workflows/orders_workflow.py", "workflow_orders_daily")]:
        dag_run = dag_test(bundle_dag(path, dag_id), logical_date=LOGICAL_DATE)
        assert dag_run.state == "success", f"{dag_id}: {dag_run.state}"

    (job,) = workspace.jobs.list(name="local.workflow_orders_daily.orders_job")
    assert job.settings.timeout_seconds == 1800
    reader = notebook("read_revenue", READ_REVENUE)
    task = SubmitTask(task_key="read", notebook_task=NotebookTask(
        notebook_path=reader, base_parameters={"day": LOGICAL_DATE.date().isoformat()}))
    run_id = workspace.jobs.submit(run_name="read", tasks=[task]).response.run_id
    run = wait_for_run(workspace, run_id)
    output = workspace.jobs.get_run_output(run.tasks[0].run_id)
    assert output.notebook_output.result == "orders=6", run.state.state_message
