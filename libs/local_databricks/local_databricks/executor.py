"""Runs one task run in a child process (own process group) and collects its outcome.

`build_spec` turns a task definition plus the run's parameters into the child's spec
(see task_runner); `TaskProcess` starts the child on the cluster's Python with the cluster's
environment (see cluster_env) and kills its whole process group on cancel or timeout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_databricks.processes import ProcessLedger

LOG_TAIL_BYTES = 64 * 1024
SUPPORTED_KINDS = ("notebook_task", "spark_python_task", "python_wheel_task")


class UnsupportedTaskError(ValueError):
    pass


def task_kind(task: dict[str, Any]) -> str:
    for kind in SUPPORTED_KINDS:
        if kind in task:
            return kind
    kinds = [k for k in task if k.endswith("_task")]
    raise UnsupportedTaskError(
        f"Task {task.get('task_key')!r}: {kinds or 'no task type'} is not supported by the local "
        f"emulator; use one of {', '.join(SUPPORTED_KINDS)}"
    )


def build_spec(task: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The child's spec: what to run with which parameters (run-now overrides applied)."""
    kind = task_kind(task)
    body = task[kind]
    if kind == "notebook_task":
        if body.get("source") == "GIT":
            raise UnsupportedTaskError("notebook_task source GIT is not supported; use WORKSPACE")
        parameters = {
            **body.get("base_parameters", {}),
            **params.get("job_parameters", {}),
            **params.get("notebook_params", {}),
        }
        return {"kind": "notebook", "path": body["notebook_path"], "parameters": parameters}
    if kind == "spark_python_task":
        parameters = params.get("python_params") or body.get("parameters", [])
        return {"kind": "python_file", "path": body["python_file"], "parameters": parameters}
    return {
        "kind": "wheel",
        "package_name": body["package_name"],
        "entry_point": body["entry_point"],
        "parameters": params.get("python_params") or body.get("parameters", []),
        "named_parameters": params.get("python_named_params") or body.get("named_parameters", {}),
    }


@dataclass
class Outcome:
    result_state: str  # SUCCESS, FAILED, CANCELED or TIMEDOUT
    message: str
    result: str | None = None
    error: str | None = None
    error_trace: str | None = None
    life_cycle_state: str = "TERMINATED"  # INTERNAL_ERROR when the cluster could not run it


def stopped_outcome(reason: str) -> Outcome:
    """The outcome of a task stopped before its end: reason is CANCELED or TIMEDOUT."""
    return Outcome(reason, "Run canceled" if reason == "CANCELED" else "Run timed out")


class TaskProcess:
    def __init__(
        self,
        spec: dict[str, Any],
        task_dir: Path,
        python: Path,
        env: dict[str, str],
        ledger: ProcessLedger,
    ) -> None:
        task_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = task_dir / "output.log"
        self._result_file = task_dir / "result.json"
        # Only this process's own result may ever be read back.
        self._result_file.unlink(missing_ok=True)
        spec_file = task_dir / "spec.json"
        spec_file.write_text(json.dumps(spec | {"result_file": str(self._result_file)}))
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [str(python), "-m", "local_databricks.task_runner", str(spec_file)],
                cwd=task_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
        self._ledger = ledger
        ledger.record(self._proc.pid, f"task process ({task_dir})")

    def wait(self, should_stop: Callable[[], str | None]) -> Outcome:
        """Wait for the child; `should_stop` returns CANCELED/TIMEDOUT to kill it."""
        try:
            while self._proc.poll() is None:
                reason = should_stop()
                if reason:
                    self.kill()
                    return stopped_outcome(reason)
                time.sleep(0.1)
            return self._outcome()
        finally:
            self._ledger.forget(self._proc.pid)

    def kill(self) -> None:
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(3)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()

    def _outcome(self) -> Outcome:
        if not self._result_file.exists():
            tail = log_tail(self.log_path)[0][-2000:]
            error = f"Task process exited with code {self._proc.returncode}"
            return Outcome("FAILED", error, error=error, error_trace=tail)
        data = json.loads(self._result_file.read_text())
        if self._proc.returncode == 0 and not data["error"]:
            return Outcome("SUCCESS", "", result=data["result"])
        return Outcome(
            "FAILED", data["error"], error=data["error"], error_trace=data["error_trace"]
        )


def log_tail(path: Path) -> tuple[str, bool]:
    """The last LOG_TAIL_BYTES of a task log, and whether it was truncated."""
    if not path.exists():
        return "", False
    size = path.stat().st_size
    with open(path, "rb") as log:
        log.seek(max(0, size - LOG_TAIL_BYTES))
        return log.read().decode("utf-8", "replace"), size > LOG_TAIL_BYTES
