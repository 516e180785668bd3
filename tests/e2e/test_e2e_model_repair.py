"""A failed model in the model-level dbt DAG is repaired without re-running the others.

The documented procedure (libs/dataplatform/README.md, "Retries and repair"): workflow-group
tasks get no Airflow retries; once the cause is fixed, the Databricks job run is repaired
(runs/repair, as the run page's Repair button does) and the failed Airflow tasks are cleared,
not ``launch``: each member task then watches the latest attempt of its Databricks task.
Here the fault is bad data: a raw customer without an id, which dbt's not_null test on
stg_raw__customers rejects, so that model fails its build and the customers mart never runs.
"""

from __future__ import annotations

from datetime import UTC, datetime

from conftest import wait_for_run

DAG_ID = "e2e_dbt_model_repair"
CATALOG = "e2e_repair"
LOGICAL_DATE = datetime(2025, 6, 1, tzinfo=UTC)
FAILED = "stg_raw__customers"
REPAIRED = {FAILED, "customers"}  # the failed model and its dependents
SUCCEEDED_FIRST = {"order_statuses", "stg_raw__orders", "stg_raw__payments", "orders"}

RAW_COLUMNS = {  # as notebooks/ingest_raw.py writes them
    "orders": "order_id, customer_id, order_date, status, amount, _ingest_date",
    "customers": "customer_id, name, email, country, signup_date, _ingest_date",
    "payments": "payment_id, order_id, payment_method, amount, paid_at, _ingest_date",
}
RAW_ROWS = {
    "orders": "(1, 1, DATE'2025-06-01', 'completed', 20.00, DATE'2025-06-01'), "
              "(2, 2, DATE'2025-06-01', 'shipped', 35.50, DATE'2025-06-01')",
    "payments": "(11, 1, 'card', 20.00, TIMESTAMP'2025-06-01 08:00:00', DATE'2025-06-01'), "
                "(21, 2, 'gift_card', 35.50, TIMESTAMP'2025-06-01 09:00:00', DATE'2025-06-01')",
}


def customers(second_id: str) -> str:
    return ("(1, 'Ada', 'ada@example.com', 'gb', DATE'2025-01-02', DATE'2025-06-01'), "
            f"({second_id}, 'Lin', 'lin@example.com', 'se', DATE'2025-02-03', DATE'2025-06-01')")


def run_notebook(workspace, notebook, name: str, source: str) -> str:
    """Run a notebook on a job cluster (which sees every catalog); what it exits with."""
    from databricks.sdk.service.compute import ClusterSpec
    from databricks.sdk.service.jobs import NotebookTask, SubmitTask

    task = SubmitTask(
        task_key="main", notebook_task=NotebookTask(notebook_path=notebook(name, source)),
        new_cluster=ClusterSpec(spark_version="16.4.x-scala2.12", node_type_id="local",
                                num_workers=1))
    run_id = workspace.jobs.submit(run_name=name, tasks=[task]).response.run_id
    run = wait_for_run(workspace, run_id)
    assert run.state.result_state.value == "SUCCESS", run.state.state_message
    return workspace.jobs.get_run_output(run.tasks[0].run_id).notebook_output.result


def write_raw_tables(workspace, notebook, rows: dict[str, str], catalog: str = CATALOG) -> None:
    """Replace raw tables of the test's ``catalog`` with ``rows`` (SQL VALUES lists)."""
    writes = "".join(
        f'spark.sql("SELECT * FROM VALUES {values} AS t({RAW_COLUMNS[table]})")'
        f'.write.format("delta").mode("overwrite").saveAsTable("{catalog}.raw.{table}")\n'
        for table, values in rows.items()
    )
    run_notebook(workspace, notebook, "write_raw", writes)


def task_states(dag_run) -> dict[str, str]:
    """State per dbt task of the DAG run, keyed by model name (``dbt.<model>``)."""
    return {ti.task_id.removeprefix("dbt."): str(ti.state) for ti in dag_run.get_task_instances()}


def clear_failed_tasks() -> None:
    """`airflow tasks clear --only-failed` for the run's logical date: what an operator does in
    the UI; it clears failed and upstream-failed tasks and puts the DAG run back in the queue."""
    from airflow.cli.cli_parser import get_parser

    day = LOGICAL_DATE.isoformat()
    args = get_parser().parse_args(
        ["tasks", "clear", DAG_ID, "--only-failed", "--yes", "-s", day, "-e", day])
    args.func(args)


def resume(dag, run_id: str):
    """Do what the scheduler does with a cleared DAG run, in this process: start the queued run,
    then run each task instance whose upstream tasks are done, until the run ends. dag.test()
    cannot: it clears every task of the run first, ``launch`` included. Tasks run through
    ``_run_task``, the task runner (deferral and trigger included) of dag.test() and
    ``airflow tasks test``."""
    from airflow.models.dagbag import DBDagBag
    from airflow.models.dagrun import DagRun
    from airflow.sdk.definitions.dag import _run_task
    from airflow.settings import Session
    from airflow.utils.state import DagRunState, TaskInstanceState

    session = Session()
    (dag_run,) = DagRun.find(dag_id=dag.dag_id, run_id=run_id, session=session)
    assert dag_run.state == DagRunState.QUEUED, dag_run.state
    dag_run.dag = DBDagBag().get_dag_for_run(dag_run, session=session)
    dag_run.state = DagRunState.RUNNING
    session.commit()
    while dag_run.state == DagRunState.RUNNING:
        session.expire_all()
        schedulable, _ = dag_run.update_state(session=session)
        for ti in schedulable:
            ti.try_number += 1
            ti.state = TaskInstanceState.SCHEDULED
        session.commit()
        for ti in dag_run.get_task_instances(state=[TaskInstanceState.SCHEDULED], session=session):
            _run_task(ti=ti, task=dag.task_dict[ti.task_id], run_triggerer=True)
    return dag_run


def test_failed_model_is_repaired_without_rerunning_the_others(workspace, notebook, e2e_dags):
    workspace.catalogs.create(CATALOG)
    workspace.schemas.create("raw", CATALOG)
    write_raw_tables(workspace, notebook, {**RAW_ROWS, "customers": customers("NULL")})
    dag = e2e_dags[DAG_ID]

    failed_run = dag.test(logical_date=LOGICAL_DATE)

    assert str(failed_run.state) == "failed"
    first = task_states(failed_run)
    assert first == {"launch": "success", FAILED: "failed",
                     **dict.fromkeys(SUCCEEDED_FIRST, "success"),
                     **dict.fromkeys(REPAIRED - {FAILED}, "upstream_failed")}
    (job,) = workspace.jobs.list(name=f"local.{DAG_ID}.dbt")
    (job_run,) = workspace.jobs.list_runs(job_id=job.job_id)
    key_to_model = {dag.get_task(f"dbt.{m}").databricks_task_key: m for m in first if m != "launch"}
    before = {key_to_model[t.task_key]: t for t in wait_for_run(workspace, job_run.run_id).tasks}

    # The fix upstream, then Repair run (all failed tasks) and clearing the failed Airflow tasks.
    write_raw_tables(workspace, notebook, {"customers": customers("2")})
    repair = workspace.jobs.repair_run(job_run.run_id, rerun_all_failed_tasks=True)
    repaired = wait_for_run(workspace, job_run.run_id)
    assert repaired.state.result_state.value == "SUCCESS", repaired.state.state_message
    clear_failed_tasks()
    dag_run = resume(dag, failed_run.run_id)

    assert str(dag_run.state) == "success"
    assert set(task_states(dag_run).values()) == {"success"}
    tries = {ti.task_id.removeprefix("dbt."): ti.try_number for ti in dag_run.get_task_instances()}
    # Airflow re-ran only the cleared tasks: the failed model's second try, its dependent's first.
    assert tries == {"launch": 1, **dict.fromkeys(SUCCEEDED_FIRST | REPAIRED, 1), FAILED: 2}
    # Still ONE job run: its repair re-ran the failed model and its dependents, nothing else.
    assert [r.run_id for r in workspace.jobs.list_runs(job_id=job.job_id)] == [job_run.run_id]
    history = workspace.jobs.get_run(job_run.run_id, include_history=True).repair_history
    assert [h.type.value for h in history] == ["ORIGINAL", "REPAIR"]
    assert history[1].id == repair.response.repair_id
    after = {key_to_model[t.task_key]: t for t in repaired.tasks}
    assert {m for m in after if after[m].run_id in history[1].task_run_ids} == REPAIRED
    for model in SUCCEEDED_FIRST:
        assert (after[model].run_id, after[model].start_time) == (
            before[model].run_id, before[model].start_time)
    count = f"dbutils.notebook.exit(str(spark.table('{CATALOG}.analytics.customers').count()))"
    assert run_notebook(workspace, notebook, "count_customers", count) == "2"
