"""The project's DAGs as MWAA runs them: scheduler, dag-processor, triggerer and LocalExecutor
workers, runs triggered through the REST API. Every DAG runs twice with a logical date and once
without one (`logical_date: null`); the workflow DAG also runs from Asset events. Each run's
Databricks runs are read back from the emulator.

The DAGs are unpaused phase by phase, in the order their data flows (ingest, then its readers),
and the dbt DAGs paused again after their phase, so that no Asset-triggered run starts behind the
test's back: a paused DAG collects no Asset events.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import databricks_run_ids, failed_tasks, run_all, run_date
from local_stack.airflow_api import wait_until

INGEST, GENERIC = "notebook_orders_ingest", "generic_xcom_handoff"
WORKFLOW = "workflow_orders_daily"
DBT_BUILD, DBT_MODELS = "dbt_daily_build", "dbt_daily_models"
DATES = (datetime(2025, 3, 10, tzinfo=UTC), datetime(2025, 3, 11, tzinfo=UTC), None)
# dbt_daily_models builds its models itself, so it runs beside the workflow DAG; dbt_daily_build
# writes the same tables, so it runs alone (with dbt_daily_models paused: its Asset would start it).
PHASES = ((INGEST, GENERIC), (WORKFLOW, DBT_MODELS), (DBT_BUILD,))
DATABRICKS_RUNS_PER_DAG_RUN = {GENERIC: 0, INGEST: 1, WORKFLOW: 1, DBT_BUILD: 1, DBT_MODELS: 1}
DATABRICKS_TRIGGER = "dataplatform.deferral.MinDeferralTrigger"  # the provider's, held back


def deferred_ingest(api) -> dict | None:
    """The ingest task instance while it is deferred to the triggerer, if it is."""
    for run in api.dag_runs(INGEST, state=["running"]):
        for ti in api.task_instances(INGEST, run["dag_run_id"]):
            if ti["state"] == "deferred" and ti["trigger"] and ti["triggerer_job"]:
                return ti
    return None


@pytest.fixture(scope="module")
def observed(api, emulator) -> dict:
    """Run the whole scenario once; what the tests below assert on."""
    # The next Databricks run stays PENDING for 20 s: long enough to see where its task waits.
    # (Unpausing also starts ingest's latest scheduled run, catchup being off: either run
    # gets it, and only one ingest run is active at a time.)
    for dag_id in (WORKFLOW, DBT_BUILD, DBT_MODELS):  # readers of the raw tables wait
        api.set_paused(dag_id, True)
    with emulator.fault(run="slow_start", seconds=20):
        api.set_paused(INGEST, False)
        first = api.trigger(INGEST, DATES[0])
        deferred = wait_until(lambda: deferred_ingest(api), 60, "the ingest task to defer")
        pool = api.get("/pools/default_pool")
    runs = {INGEST: [api.wait_for_run(INGEST, first["dag_run_id"])]}
    for phase in PHASES:
        for dag_id in phase:
            api.set_paused(dag_id, False)
        triggers = [(dag_id, date) for dag_id in phase for date in DATES
                    if (dag_id, date) != (INGEST, DATES[0])]
        for run in run_all(api, triggers):
            runs.setdefault(run["dag_id"], []).append(run)
        for dag_id in phase:  # paused again, only the raw tables' producer and readers stay on
            if dag_id in (DBT_MODELS, DBT_BUILD):
                api.set_paused(dag_id, True)
    # The raw tables' Asset events, as a producer outside this Airflow would send them.
    assets = {a["name"]: a["id"] for a in api.get("/assets", limit=100)["assets"]}
    for name in sorted(assets):
        if ".raw." in name:
            api.post("/assets/events", {"asset_id": assets[name]})
    asset_run = wait_until(
        lambda: next(iter(api.dag_runs(WORKFLOW, run_type="asset_triggered")), None), 120,
        "an Asset-triggered run of the workflow DAG")
    asset_run = api.wait_for_run(WORKFLOW, asset_run["dag_run_id"])
    for dag_id in DATABRICKS_RUNS_PER_DAG_RUN:  # scheduled runs started by unpausing
        for run in api.dag_runs(dag_id, run_type="scheduled"):
            runs[dag_id].append(api.wait_for_run(dag_id, run["dag_run_id"]))
    return {"deferred": deferred, "pool": pool, "runs": runs, "asset_run": asset_run}


def test_a_deferrable_databricks_task_waits_in_the_triggerer(observed):
    deferred = observed["deferred"]
    assert deferred["trigger"]["classpath"] == DATABRICKS_TRIGGER
    assert deferred["triggerer_job"]["job_type"] == "TriggererJob"
    # While the Databricks run waits, no worker slot is held (ingest was the only active run).
    assert observed["pool"]["running_slots"] == 0
    assert observed["pool"]["deferred_slots"] >= 1


@pytest.mark.parametrize("dag_id", list(DATABRICKS_RUNS_PER_DAG_RUN))
def test_every_dag_runs_with_and_without_a_logical_date(observed, api, dag_id):
    runs = observed["runs"][dag_id]
    manual = [r for r in runs if r["run_type"] == "manual"]
    assert sorted((r["logical_date"] or "none")[:10] for r in manual) == [
        "2025-03-10", "2025-03-11", "none"]
    for run in runs:
        assert run["state"] == "success", (run["dag_run_id"], failed_tasks(api, run))


@pytest.mark.parametrize("dag_id", list(DATABRICKS_RUNS_PER_DAG_RUN))
def test_each_run_has_its_own_databricks_runs_for_its_date(observed, api, emulator, dag_id):
    seen: set[int] = set()
    for run in observed["runs"][dag_id]:
        run_ids = databricks_run_ids(api, run)
        assert len(run_ids) == DATABRICKS_RUNS_PER_DAG_RUN[dag_id], run["dag_run_id"]
        assert not seen & set(run_ids), "a second run must not re-use the first's Databricks run"
        seen |= set(run_ids)
        for run_id in run_ids:
            databricks_run = emulator.run(run_id)
            assert databricks_run["state"]["result_state"] == "SUCCESS", databricks_run["state"]
            assert emulator.usage(run_id)["cluster_starts"] == 1  # one job cluster per run
            if dag_id in (INGEST, WORKFLOW):
                assert notebook_run_date(databricks_run) == run_date(run)


def test_an_asset_triggered_run_takes_the_day_it_was_queued(observed, api, emulator):
    run = observed["asset_run"]
    assert run["logical_date"] is None and run["state"] == "success"
    (job_run,) = databricks_run_ids(api, run)
    assert notebook_run_date(emulator.run(job_run)) == run["run_after"][:10]


def notebook_run_date(databricks_run: dict) -> str:
    """The run_date a notebook run received: a job run's notebook_params, else its task's."""
    overriding = databricks_run.get("overriding_parameters", {}).get("notebook_params")
    if overriding:
        return overriding["run_date"]
    return databricks_run["tasks"][0]["notebook_task"]["base_parameters"]["run_date"]
