"""`infra/bin/local backfill`: one DAG over a range of days through Airflow 3's own backfill
(POST /api/v2/backfills, what `airflow backfill create` does), run by the scheduler."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, time as day_time, timedelta

from local_stack.airflow_api import FINISHED_RUN_STATES, AirflowApi, AirflowApiError, wait_until
from local_stack.report import DagResult, measure, usage_mark
from local_stack.stack import RunningStack


def day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """From the start of `first` to the end of `last` (UTC): every schedule date of those days."""
    start = datetime.combine(first, day_time(), UTC)
    return start, datetime.combine(last, day_time(), UTC) + timedelta(days=1, seconds=-1)


def unpause_and_settle(stack: RunningStack, dag_id: str, progress: Callable[[str], None]) -> None:
    """Unpause the DAG and let the run that unpausing starts (its latest schedule date, catchup
    being off) finish first: the backfill's runs then never write the same tables at once."""
    api = stack.api
    if api.get(f"/dags/{dag_id}")["is_paused"]:
        api.set_paused(dag_id, False)
        now = datetime.now(UTC).isoformat()
        wait_until(lambda: (api.get(f"/dags/{dag_id}")["next_dagrun_run_after"] or "9") > now,
                   120, f"the scheduler to start {dag_id}'s latest scheduled run")
    for run in api.dag_runs(dag_id, state=["queued", "running"]):
        progress(f"waiting for {dag_id}'s {run['run_type']} run {run['dag_run_id']} to finish")
        api.wait_for_run(dag_id, run["dag_run_id"], timeout=1800)


# Long enough for the scheduler to complete a backfill a refused attempt left without runs (it
# does after two minutes), short enough to end a command that cannot get through.
LOCK_WAIT_SECONDS = 300


def create_backfill(api: AirflowApi, dag_id: str, start: datetime, end: datetime,
                    reprocess_behavior: str, max_active_runs: int,
                    progress: Callable[[str], None], give_up_after: float = LOCK_WAIT_SECONDS
                    ) -> dict:
    """POST /backfills, asked again (pauses of 1, 2, 4... up to 30 s) while SQLite is locked.

    The local stack's SQLite takes one writer at a time. Airflow creates a backfill's runs in a
    transaction that starts by reading, and SQLite refuses such a transaction at once ("database
    is locked", HTTP 503) when the scheduler wrote meanwhile; MWAA's PostgreSQL waits instead.
    A refused attempt may leave its backfill behind, without runs, until Airflow deletes it or
    the scheduler completes it: a new attempt is answered 409 meanwhile and is asked again too,
    unless that backfill has its runs (only the answer was lost): then it is returned.
    """
    since = datetime.now(UTC) - timedelta(seconds=1)  # the api-server's clock is this machine's
    deadline = time.monotonic() + give_up_after
    pause = 1.0
    locked: AirflowApiError | None = None
    while True:
        try:
            return api.create_backfill(dag_id, start, end, reprocess_behavior, max_active_runs)
        except AirflowApiError as error:
            if error.database_locked:
                locked = error
            elif error.status == 409 and locked is not None:
                if (created := created_since(api, dag_id, start, end, since)) is not None:
                    return created
            else:
                raise SystemExit(f"backfill of {dag_id} from {start:%Y-%m-%d} to {end:%Y-%m-%d} "
                                 f"refused: {error.detail}") from None
            answer = error
        if time.monotonic() + pause > deadline:
            raise SystemExit(
                f"backfill of {dag_id} from {start:%Y-%m-%d} to {end:%Y-%m-%d} not created: "
                f"Airflow's SQLite database stayed locked for {give_up_after:.0f} s (last answer: "
                f"HTTP {answer.status} {answer.detail}). Run the command again when the stack is "
                "less busy; no run of this backfill was created.")
        reason = ("Airflow's database is locked" if answer.database_locked
                  else "the backfill of a refused attempt is not cleaned up yet")
        progress(f"backfill of {dag_id} not created yet ({reason}, HTTP {answer.status}); "
                 f"asking again in {pause:.0f} s")
        time.sleep(pause)
        pause = min(pause * 2, 30)


def created_since(api: AirflowApi, dag_id: str, start: datetime, end: datetime,
                  since: datetime) -> dict | None:
    """The active backfill of exactly these dates created after `since` whose runs are queued:
    what an attempt whose answer was lost created."""
    for backfill in api.backfills(dag_id):
        created = datetime.fromisoformat(backfill["created_at"])
        if (backfill["completed_at"] is not None or created < since
                or datetime.fromisoformat(backfill["from_date"]) != start
                or datetime.fromisoformat(backfill["to_date"]) != end):
            continue
        runs = api.dag_runs(dag_id, run_type="backfill", logical_date_gte=start.isoformat(),
                            logical_date_lte=end.isoformat())
        if any(datetime.fromisoformat(run["queued_at"]) >= created for run in runs
               if run["queued_at"]):
            return backfill
    return None


def run_backfill(stack: RunningStack, dag_id: str, first: date, last: date,
                 reprocess_behavior: str, max_active_runs: int,
                 progress: Callable[[str], None], timeout: float = 3600) -> DagResult:
    """Create the backfill, print each date as its run finishes, return what the DAG did.

    The DAG is unpaused first (the scheduler runs no run of a paused DAG, backfills included)."""
    api = stack.api
    stack.wait_for_dags([dag_id])
    unpause_and_settle(stack, dag_id, progress)
    emulator_state = stack.log_dir.parent / "databricks"
    before = usage_mark(stack.emulator, emulator_state)
    started = time.monotonic()
    start, end = day_range(first, last)
    backfill = create_backfill(api, dag_id, start, end, reprocess_behavior, max_active_runs,
                               progress)
    progress(f"backfill {backfill['id']} of {dag_id} from {first} to {last} "
             f"(reprocess {reprocess_behavior}, {max_active_runs} at a time)")
    reported: set[str] = set()

    def finished() -> bool:
        stack.services.check_running()
        runs = api.dag_runs(dag_id, run_type="backfill", logical_date_gte=start.isoformat(),
                            logical_date_lte=end.isoformat())
        for run in sorted(runs, key=lambda r: r["logical_date"]):
            if run["state"] in FINISHED_RUN_STATES and run["dag_run_id"] not in reported:
                reported.add(run["dag_run_id"])
                progress(f"{dag_id} {run['logical_date'][:10]}: {run['state']} in "
                         f"{run['duration'] or 0:.1f} s")
        return api.backfill(backfill["id"])["completed_at"] is not None

    wait_until(finished, timeout, f"backfill {backfill['id']} of {dag_id}", 1)
    runs = api.dag_runs(dag_id, run_type="backfill", logical_date_gte=start.isoformat(),
                        logical_date_lte=end.isoformat())
    failed_tasks = sorted({ti["task_id"] for run in runs if run["state"] == "failed"
                           for ti in api.task_instances(dag_id, run["dag_run_id"])
                           if ti["state"] == "failed"})
    state = "success" if all(r["state"] == "success" for r in runs) else "failed"
    return measure(dag_id, state, time.monotonic() - started, stack.emulator, emulator_state,
                   before, failed_tasks)
