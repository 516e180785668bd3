"""Clearing a finished Databricks task in Airflow (the UI's Clear, here through the REST API)
runs it again: the new try carries a new idempotency token, so Databricks starts a fresh run,
and the data it writes for the run's date is the same as the first try's. So does a DAG run
deleted and run again under the same run_id, whose task starts again at try 1."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from conftest import databricks_run_ids, failed_tasks, run_all

INGEST = "notebook_orders_ingest"
DAY = datetime(2025, 3, 20, tzinfo=UTC)
RAW_TABLES = ("customers", "orders", "payments")


def tries(api, run_id: str) -> list[tuple[int, str, str | None]]:
    """(try number, state, error) of every try of the run's ingest task, first try first: why a
    try was added."""
    path = f"/dags/{INGEST}/dagRuns/{quote(run_id, safe='')}/taskInstances/ingest_raw/tries"
    return [(t["try_number"], t["state"], api.task_error(INGEST, run_id, "ingest_raw",
                                                          t["try_number"]))
            for t in sorted(api.get(path)["task_instances"], key=lambda t: t["try_number"])]


def raw_rows(emulator) -> dict[str, dict]:
    return {t: emulator.fingerprint(f"hive_metastore.raw.{t}", "_ingest_date") for t in RAW_TABLES}


def test_clearing_a_finished_task_starts_a_fresh_databricks_run_writing_the_same_rows(
    api, emulator
):
    api.set_paused(INGEST, False)
    (run,) = run_all(api, [(INGEST, DAY)])
    assert run["state"] == "success", failed_tasks(api, run)
    (first,) = databricks_run_ids(api, run)
    written = raw_rows(emulator)
    (before,) = api.task_instances(INGEST, run["dag_run_id"])

    (cleared,) = api.clear_tasks(INGEST, run["dag_run_id"], ["ingest_raw"])
    assert cleared["task_id"] == "ingest_raw"
    rerun = api.wait_for_run(INGEST, run["dag_run_id"])

    assert rerun["state"] == "success", failed_tasks(api, rerun)
    (ti,) = api.task_instances(INGEST, run["dag_run_id"])
    # The clear added a try (more than one when Airflow's deferral race, see README, cost one).
    assert ti["try_number"] > before["try_number"], tries(api, run["dag_run_id"])
    (second,) = databricks_run_ids(api, rerun)
    assert second != first
    assert emulator.run(second)["state"]["result_state"] == "SUCCESS"
    assert raw_rows(emulator) == written
    day = DAY.date().isoformat()
    # ingest_raw writes 5 customers and 6 orders a day, a payment for each order not returned.
    assert (written["customers"][day][0], written["orders"][day][0]) == (5, 6)
    assert 0 < written["payments"][day][0] <= 6


def test_a_day_whose_run_was_deleted_runs_again_on_databricks(api, emulator):
    api.set_paused(INGEST, False)
    day, run_id = datetime(2025, 3, 21, tzinfo=UTC), "manual__a-day-run-again"
    first_run = api.wait_for_run(INGEST, api.trigger(INGEST, day, dag_run_id=run_id)["dag_run_id"])
    assert first_run["state"] == "success", failed_tasks(api, first_run)
    (first,) = databricks_run_ids(api, first_run)

    api.delete_run(INGEST, run_id)
    again = api.wait_for_run(INGEST, api.trigger(INGEST, day, dag_run_id=run_id)["dag_run_id"])

    assert again["state"] == "success", failed_tasks(api, again)
    (second,) = databricks_run_ids(api, again)
    assert second != first, "the deleted run's Databricks run was returned, nothing ran"
    assert emulator.run(second)["state"]["result_state"] == "SUCCESS"
