"""A small client for Airflow 3's REST API (`/api/v2`) of the local stack, standard library only.

It does what a user does on MWAA through the same API: trigger, watch, clear and backfill runs.
The local api-server uses the simple auth manager with every user admin, so a token comes from
`GET /auth/token` without credentials.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

FINISHED_RUN_STATES = ("success", "failed")
T = TypeVar("T")


class AirflowApiError(RuntimeError):
    """A non-2xx answer: the method, path, status and Airflow's `detail`."""

    def __init__(self, method: str, path: str, status: int, detail: Any) -> None:
        super().__init__(f"{method} {path} -> HTTP {status}: {detail}")
        self.status, self.detail = status, detail

    @property
    def database_locked(self) -> bool:
        """SQLite refused a write because another connection held the database: a 503 from the
        backfill routes ("Database is locked"), or any route's 500 "Database error" whose
        original error is SQLite's "database is locked" (the local stack exposes it)."""
        if self.status == 503:
            return "database is locked" in str(self.detail).lower()
        return (self.status == 500 and isinstance(self.detail, dict)
                and self.detail.get("reason") == "Database error"
                and "database is locked" in str(self.detail.get("orig_error", "")).lower())


class AirflowApi:
    """`lock_wait`: how long a request SQLite refused ("database is locked") is asked again."""

    def __init__(self, base_url: str, timeout: float = 60, lock_wait: float = 120) -> None:
        self.base_url, self.timeout, self.lock_wait = base_url.rstrip("/"), timeout, lock_wait
        self._token: str | None = None

    # -- transport ---------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, auth: bool = True,
                retry_locked: bool = True) -> Any:
        """The JSON answer of `method path` (path below the server root, e.g. /api/v2/dags).

        The local stack's SQLite takes one writer at a time and refuses at once a transaction that
        read before another connection wrote (MWAA's PostgreSQL waits instead). Airflow then rolls
        the request back, so it is sent again after pauses of 0.5, 1, 2... s for `lock_wait` s."""
        deadline, pause = time.monotonic() + self.lock_wait, 0.5
        while True:
            try:
                return self._send(method, path, body, auth)
            except AirflowApiError as error:
                if not (retry_locked and error.database_locked) or (
                        time.monotonic() + pause > deadline):
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 10)

    def _send(self, method: str, path: str, body: Any, auth: bool) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        request = urllib.request.Request(
            self.base_url + path, method=method, headers=headers,
            data=json.dumps(body).encode() if body is not None else None,
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            try:
                detail = json.loads(text).get("detail", text)
            except (ValueError, AttributeError):
                detail = text
            raise AirflowApiError(method, path, error.code, detail) from None
        return json.loads(payload) if payload else None

    def token(self) -> str:
        if self._token is None:
            self._token = self.request("GET", "/auth/token", auth=False)["access_token"]
        return self._token

    def get(self, path: str, **query: Any) -> Any:
        params = {k: v for k, v in query.items() if v is not None}
        suffix = f"?{urllib.parse.urlencode(params, doseq=True)}" if params else ""
        return self.request("GET", f"/api/v2{path}{suffix}")

    def post(self, path: str, body: Any, retry_locked: bool = True) -> Any:
        return self.request("POST", f"/api/v2{path}", body, retry_locked=retry_locked)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", f"/api/v2{path}", body)

    def healthy(self) -> bool:
        """The api-server answers and reports its metadatabase healthy."""
        try:
            health = self.request("GET", "/api/v2/monitor/health", auth=False)
        except (OSError, AirflowApiError):
            return False
        return health.get("metadatabase", {}).get("status") == "healthy"

    # -- DAGs and runs -----------------------------------------------------------------------

    def dag_ids(self) -> list[str]:
        return [dag["dag_id"] for dag in self.get("/dags", limit=1000)["dags"]]

    def import_errors(self) -> list[dict]:
        return self.get("/importErrors")["import_errors"]

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.patch(f"/dags/{dag_id}", {"is_paused": paused})

    def trigger(self, dag_id: str, logical_date: datetime | None, **fields: Any) -> dict:
        """A manual run; `logical_date=None` makes a run without one (it has only run_after)."""
        date = logical_date.isoformat() if logical_date is not None else None
        return self.post(f"/dags/{dag_id}/dagRuns", {"logical_date": date, **fields})

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.get(f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")

    def dag_runs(self, dag_id: str, **query: Any) -> list[dict]:
        return self.get(f"/dags/{dag_id}/dagRuns", limit=1000, **query)["dag_runs"]

    def delete_run(self, dag_id: str, run_id: str) -> None:
        """Delete a DAG run and its task instances, as the UI's Delete does."""
        run = urllib.parse.quote(run_id, safe="")
        self.request("DELETE", f"/api/v2/dags/{dag_id}/dagRuns/{run}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        path = f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances"
        return self.get(path, limit=1000)["task_instances"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> dict:
        """The run once it has finished (success or failed)."""
        return wait_until(
            lambda: (run := self.dag_run(dag_id, run_id))["state"] in FINISHED_RUN_STATES and run,
            timeout, f"{dag_id} run {run_id} to finish",
        )  # fmt: skip

    def clear_tasks(self, dag_id: str, run_id: str, task_ids: list[str] | None) -> list[dict]:
        """Clear finished tasks of one run (all of them for None), as the UI's Clear does; their
        run is re-queued and each task runs again with its next try number."""
        body = {"dry_run": False, "only_failed": False, "reset_dag_runs": True,
                "dag_run_id": run_id, "task_ids": task_ids}
        return self.post(f"/dags/{dag_id}/clearTaskInstances", body)["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """A task's XCom value as stored (JSON), or None when the task pushed none."""
        path = (f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances/"
                f"{task_id}/xcomEntries/{key}")
        try:
            return self.get(path)["value"]
        except AirflowApiError as error:
            if error.status == 404:
                return None
            raise

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        content = self._log_content(dag_id, run_id, task_id, try_number)
        if isinstance(content, str):
            return content
        return "\n".join(line.get("event", "") if isinstance(line, dict) else str(line)
                         for line in content)

    def task_error(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str | None:
        """The exception a try ended with (`Type: message`), as its log records it."""
        content = self._log_content(dag_id, run_id, task_id, try_number)
        for line in reversed(content if isinstance(content, list) else []):
            for detail in (line.get("error_detail") or []) if isinstance(line, dict) else []:
                return f"{detail.get('exc_type')}: {detail.get('exc_value')}"
        return None

    def _log_content(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> Any:
        path = (f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances/"
                f"{task_id}/logs/{try_number}")
        return self.get(path, full_content="true")["content"]

    # -- backfills ---------------------------------------------------------------------------

    def create_backfill(self, dag_id: str, from_date: datetime, to_date: datetime,
                        reprocess_behavior: str = "none", max_active_runs: int = 1) -> dict:
        """What `airflow backfill create` does: one run per schedule date in the range. A locked
        database is answered as is: a refused creation may leave its backfill behind, which
        `backfill.create_backfill` knows how to wait out."""
        return self.post("/backfills", {
            "dag_id": dag_id, "from_date": from_date.isoformat(), "to_date": to_date.isoformat(),
            "reprocess_behavior": reprocess_behavior, "max_active_runs": max_active_runs,
        }, retry_locked=False)  # fmt: skip

    def backfill(self, backfill_id: int) -> dict:
        return self.get(f"/backfills/{backfill_id}")

    def backfills(self, dag_id: str) -> list[dict]:
        return self.get("/backfills", dag_id=dag_id, limit=1000)["backfills"]


def wait_until(probe: Callable[[], T], timeout: float, what: str, interval: float = 0.5) -> T:
    """The first truthy value of `probe()`, polled every `interval` seconds. A probe that cannot
    reach its server (refused, timed out: a busy machine) is asked again until the deadline."""
    deadline = time.monotonic() + timeout
    unreachable: OSError | None = None
    while True:
        try:
            value = probe()
        except OSError as error:
            value, unreachable = None, error
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f" (last: {unreachable})" if unreachable else ""
            raise TimeoutError(f"waited {timeout:.0f} s for {what}{detail}")
        time.sleep(interval)
