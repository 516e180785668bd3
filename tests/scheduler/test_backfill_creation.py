"""How `infra/bin/local backfill` gets its backfill created while the local stack's SQLite is
locked (Airflow answers 503, or 500 "Database error" naming "database is locked"): asked again
after growing pauses, a half-created backfill waited out, one whose answer was lost taken, and a
clear refusal when the lock never goes. Airflow's answers are replayed by a stand-in client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from local_stack import backfill as backfill_module
from local_stack.airflow_api import AirflowApiError
from local_stack.backfill import create_backfill, day_range

DAG = "notebook_orders_ingest"
START, END = day_range(datetime(2025, 4, 1).date(), datetime(2025, 4, 3).date())
LOCKED_503 = AirflowApiError("POST", "/api/v2/backfills", 503, (
    "Database is locked. Backfill creation is not supported on SQLite under concurrent access. "
    "Please use PostgreSQL or MySQL."))
LOCKED_500 = AirflowApiError("POST", "/api/v2/backfills", 500, {
    "reason": "Database error", "statement": "INSERT INTO log ...",
    "orig_error": "database is locked", "message": "Error with id ..."})
ALREADY_RUNNING = AirflowApiError("POST", "/api/v2/backfills", 409,
                                  f"There is already a running backfill for dag {DAG}")


class ReplayedAirflow:
    """Answers POST /backfills with `answers` in turn; lists `backfills` and `runs`."""

    def __init__(self, answers, backfills=(), runs=()) -> None:
        self.answers, self.existing, self.runs = list(answers), list(backfills), list(runs)
        self.posts = 0

    def create_backfill(self, dag_id, start, end, reprocess_behavior, max_active_runs):
        self.posts += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def backfills(self, dag_id):
        return self.existing

    def dag_runs(self, dag_id, **query):
        return self.runs


@pytest.fixture(autouse=True)
def pauses(monkeypatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(backfill_module.time, "sleep", slept.append)
    return slept


def create(api, **options):
    lines: list[str] = []
    created = create_backfill(api, DAG, START, END, "completed", 1, lines.append, **options)
    return created, lines


def backfill_row(created_at: datetime, completed: bool = False) -> dict:
    return {"id": 7, "dag_id": DAG, "from_date": START.isoformat(), "to_date": END.isoformat(),
            "created_at": created_at.isoformat(),
            "completed_at": created_at.isoformat() if completed else None}


def test_a_locked_database_is_asked_again_after_growing_pauses(pauses):
    api = ReplayedAirflow([LOCKED_503, LOCKED_500, LOCKED_503, {"id": 3}])

    created, lines = create(api)

    assert created == {"id": 3} and api.posts == 4
    assert pauses == [1, 2, 4]
    assert all(f"backfill of {DAG} not created yet (Airflow's database is locked" in line
               for line in lines)


def test_a_backfill_left_without_runs_by_a_refused_attempt_is_waited_out():
    now = datetime.now(UTC)
    api = ReplayedAirflow([LOCKED_503, ALREADY_RUNNING, {"id": 8}],
                          backfills=[backfill_row(now)],
                          runs=[{"queued_at": (now - timedelta(days=1)).isoformat()}])

    created, lines = create(api)

    assert created == {"id": 8} and api.posts == 3
    assert "not cleaned up yet" in lines[1]


def test_the_backfill_of_an_attempt_whose_answer_was_lost_is_taken():
    now = datetime.now(UTC)
    api = ReplayedAirflow([LOCKED_500, ALREADY_RUNNING],
                          backfills=[backfill_row(now - timedelta(days=1), completed=True),
                                     backfill_row(now)],
                          runs=[{"queued_at": (now + timedelta(seconds=1)).isoformat()}])

    created, _ = create(api)

    assert created == backfill_row(now) and api.posts == 2


def test_another_running_backfill_is_a_refusal_not_a_lock():
    api = ReplayedAirflow([ALREADY_RUNNING])

    with pytest.raises(SystemExit, match="refused: There is already a running backfill"):
        create(api)
    assert api.posts == 1


def test_a_database_error_other_than_the_lock_is_not_asked_again():
    other = AirflowApiError("POST", "/api/v2/backfills", 500, {
        "reason": "Database error", "orig_error": "no such table: backfill"})

    with pytest.raises(SystemExit, match="no such table"):
        create(ReplayedAirflow([other]))


def test_a_lock_that_never_goes_ends_with_what_happened_and_what_to_do():
    api = ReplayedAirflow([LOCKED_503] * 100)

    with pytest.raises(SystemExit) as refused:
        create(api, give_up_after=0)

    message = str(refused.value)
    assert message.startswith(f"backfill of {DAG} from 2025-04-01 to 2025-04-03 not created")
    assert "stayed locked" in message and "HTTP 503" in message and "again" in message
