"""Fault injection: make the emulator misbehave on purpose to test retries and failure paths.

A fault is a dict (POST /emulator/faults body, or `--fault k=v,k=v` on the command line):
  {"endpoint": "jobs/runs/get", "status": 429, "count": 2}  the next 2 matching calls get 429
  {"run": "fail", "count": 1, "message": "..."}              next run's tasks fail without running
  {"run": "hang", "count": 1}                                next run's tasks hang until cancelled
  {"run": "slow_start", "seconds": 5, "count": 1}            next run stays PENDING 5 s longer
  {"run": "slow_finish", "seconds": 5, "count": 1}           next run stays TERMINATING 5 s
Seconds are finite, 0 to MAX_FAULT_SECONDS; faults apply to /api/ paths only, so the
/emulator/ endpoints that clear them always answer.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from local_databricks.errors import ApiError, invalid

RUN_FAULTS = ("fail", "hang", "slow_start", "slow_finish")
MAX_FAULT_SECONDS = 3600  # a delay longer than an hour is a typo, not a test
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


def _check_endpoint_pattern(endpoint: Any) -> None:
    if not isinstance(endpoint, str) or not endpoint.strip("/ "):
        raise invalid(
            f"fault endpoint must name an API path such as 'jobs/runs/get', got {endpoint!r}"
        )


def _check_seconds(seconds: Any) -> None:
    """A delay the run can sit out: a finite number of seconds, 0 to MAX_FAULT_SECONDS."""
    if (
        not isinstance(seconds, int | float)
        or isinstance(seconds, bool)
        or not math.isfinite(seconds)
        or not 0 <= seconds <= MAX_FAULT_SECONDS
    ):
        raise invalid(
            f"a slow_start/slow_finish fault needs 'seconds' between 0 and "
            f"{MAX_FAULT_SECONDS}, got {seconds!r}"
        )


class FaultInjector:
    """Holds the pending faults of one server; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[dict[str, Any]] = []

    def add(self, fault: dict[str, Any]) -> dict[str, Any]:
        fault = dict(fault)
        fault.setdefault("count", 1)
        count = fault["count"]
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise invalid(f"fault count must be a positive integer, got {count!r}")
        if "endpoint" in fault:
            _check_endpoint_pattern(fault["endpoint"])
            if fault.get("status") not in _STATUS_CODES:
                raise invalid(f"fault status must be one of {sorted(_STATUS_CODES)}")
        elif fault.get("run") in RUN_FAULTS:
            if fault["run"].startswith("slow"):
                _check_seconds(fault.get("seconds"))
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
        """Raise the injected error if a fault matches this API path (e.g.
        /api/2.2/jobs/runs/get); the /emulator/ endpoints themselves are never faulted."""
        if not path.startswith("/api/"):
            return
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
