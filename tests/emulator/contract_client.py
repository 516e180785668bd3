"""Raw HTTP calls to the emulator, for tests that send exactly what a client sends on the wire."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import requests

PAYLOADS = Path(__file__).parent / "payloads"


def call(emulator: dict, method: str, path: str, body: Any = None, data: bytes | None = None):
    """`path` after /api/2.2/ (or a whole path, /api/2.0/...); `body` sent as JSON, or `data`
    sent as it is."""
    headers = {"Authorization": f"Bearer {emulator['token']}"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    return requests.request(
        method,
        emulator["url"] + (path if path.startswith("/") else f"/api/2.2/{path}"),
        json=body if data is None else None,
        data=data,
        headers=headers,
        timeout=60,
    )


def wait_for_tasks(emulator: dict, run_id: int, done, timeout: float = 120) -> dict:
    """Poll runs/get until `done(tasks by key)` holds; returns those tasks."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = call(emulator, "GET", "jobs/runs/get", {"run_id": run_id}).json()
        by_key = {task["task_key"]: task for task in run["tasks"]}
        if done(by_key):
            return by_key
        time.sleep(0.3)
    raise AssertionError(f"run {run_id}: tasks never reached the expected states: {by_key}")


def ok(response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()


def provider_payloads() -> dict[str, Any]:
    """payloads/provider_requests.json with each "$cluster" replaced by its cluster spec."""
    raw = json.loads((PAYLOADS / "provider_requests.json").read_text())
    cluster = raw["cluster"]

    def expand(value: Any) -> Any:
        if value == "$cluster":
            return dict(cluster)
        if isinstance(value, dict):
            return {k: expand(v) for k, v in value.items()}
        if isinstance(value, list):
            return [expand(v) for v in value]
        return value

    return expand(raw)


def fail_next_run(emulator: dict) -> None:
    """The next run's tasks fail at once without starting a compute (a request-only test)."""
    response = requests.post(
        f"{emulator['url']}/emulator/faults",
        json={"run": "fail", "message": "request-only test: not run"},
        headers={"Authorization": f"Bearer {emulator['token']}"},
        timeout=10,
    )
    ok(response)


def wait_terminated(emulator: dict, run_id: int, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = ok(call(emulator, "GET", "jobs/runs/get", {"run_id": run_id}))
        if run["state"]["life_cycle_state"] == "TERMINATED":
            return run
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} did not end in {timeout} s")
