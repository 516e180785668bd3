"""A deployed job run by name from a DAG: the job the local stack deployed from
dataplatform.jobs, found by ``<env>.<key>`` and run with DatabricksRunNowOperator, durable and
deferrable like the submitted runs."""

from __future__ import annotations

from datetime import UTC, datetime

from conftest import DAGS_FOLDER, wait_for_run

LOGICAL_DATE = datetime(2025, 4, 2, tzinfo=UTC)


def bundle_dag(relative_path: str, dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=DAGS_FOLDER / relative_path, bundle_path=DAGS_FOLDER)
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id]


def test_the_dag_runs_the_deployed_job_by_name(stack, workspace):
    from databricks.sdk.service.jobs import RunType
    from dataplatform.dags import dag_test

    (job,) = workspace.jobs.list(name="local.raw_checks")
    assert job.settings.tags["managed_by"] == "dataplatform"
    for path, dag_id in [("notebook_jobs/orders_ingest.py", "notebook_orders_ingest"),
                         ("deployed_jobs/raw_checks.py", "job_raw_checks")]:
        dag_run = dag_test(bundle_dag(path, dag_id), logical_date=LOGICAL_DATE)
        states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
        assert dag_run.state == "success", f"{dag_id}: {states}"

    (run,) = workspace.jobs.list_runs(job_id=job.job_id)
    run = wait_for_run(workspace, run.run_id)
    assert run.run_type == RunType.JOB_RUN and run.state.result_state.value == "SUCCESS"
    # The notebook got the run's date from the DAG and the catalog from the job's definition.
    stack.wait_for_log(run.run_id, "raw tables for 2025-04-02 passed checks")


class TaskState(dict):
    """What a task instance's ``task_state_store`` keeps between its tries."""

    def set(self, key, value):
        self[key] = value


def test_a_retry_while_the_job_run_is_active_reattaches(stack, workspace, notebook):
    from airflow.sdk.exceptions import TaskDeferred
    from databricks.sdk.service.jobs import NotebookTask, Task

    from dataplatform.operators import DurableRunNowOperator

    path = notebook("slow_job", "import time\ntime.sleep(600)")  # canceled below
    job_id = workspace.jobs.create(name="local.slow_job", tasks=[
        Task(task_key="main", notebook_task=NotebookTask(notebook_path=path))]).job_id
    store = TaskState()

    def run_now_try(try_number: int) -> int:
        operator = DurableRunNowOperator(
            task_id="slow", job_name="local.slow_job", databricks_conn_id="databricks_local",
            idempotency_token=f"slow-job-{try_number}", deferrable=True, do_xcom_push=False,
            polling_period_seconds=1, min_deferral_seconds=1,
        )
        try:
            operator.execute(context={"task_state_store": store})
        except TaskDeferred as deferred:
            return deferred.trigger.run_id
        raise AssertionError("the operator did not defer while the run was active")

    first = run_now_try(1)
    assert run_now_try(2) == first  # e.g. the worker was lost: the same run, not a second one
    assert [r.run_id for r in workspace.jobs.list_runs(job_id=job_id)] == [first]
    workspace.jobs.cancel_run(first)
    wait_for_run(workspace, first)
