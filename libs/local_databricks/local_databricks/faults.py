"""Fault injection: make the emulator misbehave on purpose to test retries and failure paths.

A fault is a dict (POST /emulator/faults body, or `--fault k=v,k=v` on the command line):
  {"endpoint": "jobs/runs/get", "status": 429, "count": 2}  the next 2 matching calls get 429
  {"run": "fail", "count": 1, "message": "..."}              next run's tasks fail without running
  {"run": "hang", "count": 1}                                next run's tasks hang until cancelled
  {"run": "slow_start", "seconds": 5, "count": 1}            next run stays PENDING 5 s longer
  {"run": "slow_finish", "seconds": 5, "count": 1}           next run stays TERMINATING 5 s
"""

from __future__ import annotations

import threading
from typing import Any

from local_databricks.errors import ApiError, invalid

RUN_FAULTS = ("fail", "hang", "slow_start", "slow_finish")
_STATUS_CODES = {
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "TEMPORARILY_UNAVAILABLE",
}


def parse_cli_fault(text: str) -> dict[str, Any]:
    """`endpoint=jobs/runs/get,status=429,count=2` -> a fault dict."""
    fault: dict[str, Any] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"--fault {text!r}: expected key=value pairs separated by commas")
        fault[key.strip()] = int(value) if value.strip().isdigit() else value.strip()
    return fault


class FaultInjector:
    """Holds the pending faults of one server; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[dict[str, Any]] = []

    def add(self, fault: dict[str, Any]) -> dict[str, Any]:
        fault = dict(fault)
        fault.setdefault("count", 1)
        if not isinstance(fault["count"], int) or fault["count"] < 1:
            raise invalid(f"fault count must be a positive integer, got {fault['count']!r}")
        if "endpoint" in fault:
            if fault.get("status") not in _STATUS_CODES:
                raise invalid(f"fault status must be one of {sorted(_STATUS_CODES)}")
        elif fault.get("run") in RUN_FAULTS:
            if fault["run"].startswith("slow") and not isinstance(
                fault.get("seconds"), int | float
            ):
                raise invalid("a slow_start/slow_finish fault needs 'seconds'")
        else:
            raise invalid(f"a fault needs 'endpoint' (with status) or 'run' in {RUN_FAULTS}")
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(f) for f in self._faults]

    def check_endpoint(self, path: str) -> None:
        """Raise the injected error if a fault matches this path (e.g. /api/2.2/jobs/runs/get)."""
        fault = self._take(lambda f: "endpoint" in f and path.endswith(f["endpoint"].strip("/")))
        if fault:
            status = fault["status"]
            raise ApiError(status, _STATUS_CODES[status], f"Injected fault on {fault['endpoint']}")

    def take_run_faults(self) -> dict[str, dict[str, Any]]:
        """The run faults that apply to a newly started run, by kind."""
        taken = {}
        for kind in RUN_FAULTS:
            fault = self._take(lambda f, kind=kind: f.get("run") == kind)
            if fault:
                taken[kind] = fault
        return taken

    def _take(self, match) -> dict[str, Any] | None:
        with self._lock:
            for fault in self._faults:
                if match(fault):
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self._faults.remove(fault)
                    return dict(fault)
        return None
