"""A backfill of three days through Airflow's own backfill (what `infra/bin/local backfill` and
`airflow backfill create` do), run twice: the second pass (reprocess_behavior=completed) starts
fresh Databricks runs and leaves exactly the rows of the first, per table and date, and never
changes another date's rows. The readers of the raw tables (the workflow notebook per date, the
dbt build) run after each pass and must give the same tables too."""

from __future__ import annotations

from datetime import UTC, date, datetime

from conftest import failed_tasks, run_all
from local_stack.backfill import run_backfill
from local_stack.report import DagResult

INGEST, WORKFLOW, DBT_BUILD = "notebook_orders_ingest", "workflow_orders_daily", "dbt_daily_build"
FIRST, LAST = date(2025, 4, 1), date(2025, 4, 3)
DAYS = [date(2025, 4, d).isoformat() for d in (1, 2, 3)]
TABLES = {  # table -> its date column
    "hive_metastore.raw.customers": "_ingest_date",
    "hive_metastore.raw.orders": "_ingest_date",
    "hive_metastore.raw.payments": "_ingest_date",
    "hive_metastore.curated.daily_revenue": "order_date",
    "hive_metastore.analytics.orders": "order_date",
}


def backfill_pass(stack, api, reprocess_behavior: str, readers: list[dict]) -> DagResult:
    """The ingest backfill, then the readers for those days: triggered on the first pass, cleared
    (run again, as after a fix) on the second, since a DAG has one run per logical date."""
    result = run_backfill(stack, INGEST, FIRST, LAST, reprocess_behavior, 1, print)
    for dag_id in (WORKFLOW, DBT_BUILD):
        api.set_paused(dag_id, False)
    if readers:
        for run in readers:
            api.clear_tasks(run["dag_id"], run["dag_run_id"], None)
        finished = [api.wait_for_run(r["dag_id"], r["dag_run_id"], timeout=900) for r in readers]
    else:
        days = [(WORKFLOW, datetime.fromisoformat(day).replace(tzinfo=UTC)) for day in DAYS]
        finished = run_all(api, [*days, (DBT_BUILD, datetime(2025, 4, 3, tzinfo=UTC))])
    for dag_id in (WORKFLOW, DBT_BUILD):
        api.set_paused(dag_id, True)
    for run in finished:
        assert run["state"] == "success", (run["dag_id"], failed_tasks(api, run))
    readers[:] = finished
    return result


def snapshot(emulator) -> dict[str, dict[str, tuple[int, str]]]:
    return {table: emulator.fingerprint(table, column) for table, column in TABLES.items()}


def test_a_backfill_run_twice_leaves_the_same_rows(stack, api, emulator):
    # The raw tables' readers wait paused, so the backfill's Asset events start none of them.
    for dag_id in (WORKFLOW, DBT_BUILD, "dbt_daily_models"):
        api.set_paused(dag_id, True)

    readers: list[dict] = []
    first = backfill_pass(stack, api, "none", readers)
    after_first = snapshot(emulator)
    second = backfill_pass(stack, api, "completed", readers)
    after_second = snapshot(emulator)

    for result in (first, second):
        assert result.state == "success", result.failures
        assert (result.databricks_runs, result.cluster_starts) == (3, 3)  # one run per day
    for table, by_date in after_first.items():
        assert set(DAYS) <= set(by_date), f"{table} lacks a backfilled day"
        assert after_second[table] == by_date, f"{table} changed on the second pass"
    # Each pass wrote each day's rows once (the ingest notebook: 6 orders a day).
    assert second.rows_written["hive_metastore.raw.orders"] == 18


def test_a_failed_backfill_names_the_task_its_databricks_run_and_the_error(stack, api, emulator):
    from local_stack.report import failure_lines

    # Both tries of the day's ingest task (the environment allows one retry) fail on Databricks.
    day = date(2025, 5, 1)
    with emulator.fault(run="fail", count=2, message="RuntimeError: the source bucket is empty"):
        result = run_backfill(stack, INGEST, day, day, "none", 1, print)

    assert result.state == "failed"
    (line,) = failure_lines(result)
    assert line.startswith(f"FAILED {INGEST} task ingest_raw: {stack.emulator.url}/run/")
    assert line.endswith("RuntimeError: the source bucket is empty")
