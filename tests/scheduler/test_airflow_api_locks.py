"""The local stack's REST client against a loopback server answering as Airflow's api-server does
when SQLite refuses a write: a request refused with "database is locked" (Airflow rolled it back)
is sent again until it goes through; any other error, a lock that outlasts the wait, and backfill
creation (whose refusals `infra/bin/local backfill` handles itself) are answered as they are."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from local_stack.airflow_api import AirflowApi, AirflowApiError

LOCKED = (500, {"detail": {"reason": "Database error", "orig_error": "database is locked",
                           "statement": "INSERT INTO log (dttm, dag_id) VALUES (?, ?)"}})
OTHER_ERROR = (500, {"detail": {"reason": "Database error", "orig_error": "no such table: log"}})
CLEARED = (200, {"task_instances": [{"task_id": "ingest_raw"}], "total_entries": 1})


class ScriptedAirflow(ThreadingHTTPServer):
    """Answers each /api/v2 request with the next of `answers` (the last one repeats) and records
    the method, path and body it got."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ScriptedHandler)
        self.answers: list[tuple[int, dict]] = []
        self.received: list[tuple[str, str, dict | None]] = []


class ScriptedHandler(BaseHTTPRequestHandler):
    server: ScriptedAirflow

    def do_GET(self) -> None:
        if self.path == "/auth/token":
            return self.answer(201, {"access_token": "local-token"})
        self.answer_next(None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.answer_next(json.loads(self.rfile.read(length)) if length else None)

    def answer_next(self, body: dict | None) -> None:
        assert self.headers["Authorization"] == "Bearer local-token"
        self.server.received.append((self.command, self.path, body))
        answers = self.server.answers
        self.answer(*(answers.pop(0) if len(answers) > 1 else answers[0]))

    def answer(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def airflow() -> Iterator[ScriptedAirflow]:
    server = ScriptedAirflow()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def client(server: ScriptedAirflow, lock_wait: float = 30) -> AirflowApi:
    return AirflowApi(f"http://127.0.0.1:{server.server_address[1]}", lock_wait=lock_wait)


def test_a_request_refused_by_the_lock_is_sent_again_until_it_goes_through(airflow):
    airflow.answers = [LOCKED, LOCKED, CLEARED]

    cleared = client(airflow).clear_tasks("dbt_daily_build", "manual__2025-04-01", None)

    assert cleared == [{"task_id": "ingest_raw"}]
    assert len(airflow.received) == 3
    assert len({json.dumps(request) for request in airflow.received}) == 1  # the same request


def test_another_database_error_is_answered_at_once(airflow):
    airflow.answers = [OTHER_ERROR, CLEARED]

    with pytest.raises(AirflowApiError, match="no such table: log") as raised:
        client(airflow).clear_tasks("dbt_daily_build", "manual__2025-04-01", None)

    assert raised.value.status == 500 and not raised.value.database_locked
    assert len(airflow.received) == 1


def test_a_lock_that_outlasts_the_wait_is_answered_as_it_is(airflow):
    airflow.answers = [LOCKED]

    with pytest.raises(AirflowApiError) as raised:
        client(airflow, lock_wait=1).trigger("notebook_orders_ingest", None)

    assert raised.value.database_locked
    assert len(airflow.received) == 2  # at once, then after half a second; a second pause is over


def test_backfill_creation_leaves_its_lock_to_the_backfill_command(airflow):
    airflow.answers = [LOCKED, (201, {"id": 1})]

    with pytest.raises(AirflowApiError) as raised:
        client(airflow).create_backfill("notebook_orders_ingest", datetime(2025, 4, 1),
                                        datetime(2025, 4, 3))

    assert raised.value.database_locked and len(airflow.received) == 1
