"""What a run is: the run, its task runs and its attempts (the original run and each repair),
as the scheduler drives them, the views show them and the run store keeps them."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from local_databricks.executor import Outcome

TERMINAL = ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")
# How Databricks ends a run whose driver died: INTERNAL_ERROR, the run and its unfinished tasks
# FAILED. Here the driver is the emulator itself, stopped or killed while the run was active.
DRIVER_LOST = (
    "Run failed: driver lost (the local emulator stopped while this run was active, and its "
    "cluster with it). Repair the run or submit it again."
)
SUCCEEDED = ("SUCCESS", "SUCCESS_WITH_FAILURES", "EXCLUDED")


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class TaskRun:
    run_id: int
    task_key: str
    spec: dict[str, Any]
    life_cycle_state: str = "PENDING"
    result_state: str | None = None
    state_message: str = ""
    start_time: int = 0
    end_time: int = 0
    outcome: Outcome | None = None
    log_path: Any = None

    @property
    def depends_on(self) -> list[str]:
        return [d["task_key"] for d in self.spec.get("depends_on", [])]

    @property
    def done(self) -> bool:
        return self.life_cycle_state in TERMINAL

    def finish(self, life_cycle_state: str, result_state: str, message: str) -> None:
        self.life_cycle_state, self.result_state = life_cycle_state, result_state
        self.state_message = message
        self.end_time = now_ms()


@dataclass
class Attempt:
    """The original run or one repair of it: what repair_history lists."""

    id: int
    type: str  # ORIGINAL or REPAIR
    start_time: int
    task_run_ids: list[int]
    end_time: int = 0
    life_cycle_state: str = "PENDING"
    result_state: str | None = None
    state_message: str = ""


@dataclass
class Run:
    run_id: int
    run_name: str
    job_id: int  # a submit run belongs to an anonymous one-time job, as on Databricks
    run_type: str  # JOB_RUN or SUBMIT_RUN
    tasks: list[TaskRun]
    job_clusters: list[dict[str, Any]]
    params: dict[str, Any]
    timeout_seconds: int = 0
    number_in_job: int = 0
    life_cycle_state: str = "PENDING"
    result_state: str | None = None
    state_message: str = ""
    start_time: int = field(default_factory=now_ms)
    end_time: int = 0
    cancel_requested: bool = False
    timed_out: bool = False
    faults: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency_token: str | None = None
    # A job run's job settings: how many of its runs may be active, whether more wait QUEUED.
    max_concurrent_runs: int | None = None
    queue: bool = True
    changed: threading.Condition = field(default_factory=threading.Condition)
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.life_cycle_state in TERMINAL

    @property
    def latest_repair_id(self) -> int | None:
        return self.attempts[-1].id if len(self.attempts) > 1 else None

    @property
    def attempt_start(self) -> int:
        """When the current attempt started: a repair gets the whole timeout_seconds again."""
        return self.attempts[-1].start_time if self.attempts else self.start_time

    def lose_driver(self) -> None:
        """End the run and its unfinished tasks as a lost driver does."""
        for task in self.tasks:
            if not task.done:
                task.finish("INTERNAL_ERROR", "FAILED", DRIVER_LOST)
        self.life_cycle_state, self.result_state = "INTERNAL_ERROR", "FAILED"
        self.state_message, self.end_time = DRIVER_LOST, now_ms()
        attempt = self.attempts[-1]
        attempt.end_time, attempt.life_cycle_state = self.end_time, "INTERNAL_ERROR"
        attempt.result_state, attempt.state_message = "FAILED", DRIVER_LOST
