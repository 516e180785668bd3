"""The service's hard limits on jobs, runs and clusters, with its own error texts.

From Databricks' jobs documentation ("Jobs with a large number of tasks", resource limits):
- a job, or a runs/submit run, holds at most 1,000 tasks, and more than 100 only through Jobs
  API 2.2 ("Resources with more than 100 tasks can only be handled by API 2.2 and above. Your
  resource has 200 tasks");
- one cluster opens at most 150 execution contexts: a task run beyond that fails with "Too many
  execution contexts are open right now. (Limit set to 150)";
- a workspace runs at most 1,000 task runs at once: a run that cannot start is answered 429;
- a workspace creates at most 10,000 jobs an hour, runs/submit included (the knowledge base
  quotes the refusal: INVALID_STATE "There were already 1000 jobs created in past 3600 seconds,
  exceeding rate limit: 1000 job creations per 3600 seconds.").

The last three are settings of `serve` (flags or LOCAL_DATABRICKS_* variables) so tests can reach
them with a few runs; the task counts are fixed, as on the service.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import contextvars
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from local_databricks.errors import ApiError, invalid
from local_databricks.executor import UnsupportedTaskError

MAX_TASKS_PER_JOB = 1000
MAX_TASKS_BEFORE_API_2_2 = 100
RATE_WINDOW_SECONDS = 3600

# The Jobs API version of the request being handled ("2.0", "2.1" or "2.2"), set by the server.
request_api_version: contextvars.ContextVar[str] = contextvars.ContextVar(
    "request_api_version", default="2.2"
)


@dataclass(frozen=True)
class WorkspaceLimits:
    """The configurable limits, the service's values by default."""

    execution_contexts_per_cluster: int = 150
    concurrent_task_runs: int = 1000
    job_creations_per_hour: int = 10000


_SETTINGS = (
    ("execution_contexts_per_cluster", "--max-execution-contexts",
     "task runs open at once on one cluster"),
    ("concurrent_task_runs", "--max-concurrent-task-runs",
     "task runs running at once in the workspace (a run beyond is answered 429)"),
    ("job_creations_per_hour", "--max-job-creations-per-hour",
     "jobs/create and runs/submit calls per hour"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`serve` flags for each configurable limit; LOCAL_DATABRICKS_<NAME> sets the default."""
    defaults = WorkspaceLimits()
    for field, flag, meaning in _SETTINGS:
        variable = "LOCAL_DATABRICKS_" + flag.removeprefix("--").replace("-", "_").upper()
        parser.add_argument(
            flag,
            type=_positive,
            dest=field,
            metavar="N",
            default=os.environ.get(variable, str(getattr(defaults, field))),  # through type
            help=f"{meaning} (default: the service's %(default)s, or ${variable}); "
            "lower it in tests to reach the limit",
        )


def from_arguments(args: argparse.Namespace) -> WorkspaceLimits:
    return WorkspaceLimits(**{field: getattr(args, field) for field, _, _ in _SETTINGS})


def _positive(text: str | int) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"a limit must be a positive integer, got {text!r}")
    return value


def check_task_count(count: int) -> None:
    """jobs/create, reset, update and runs/submit: the tasks one job or run may hold."""
    if count > MAX_TASKS_PER_JOB:
        raise invalid(
            f"The job has {count} tasks, more than the {MAX_TASKS_PER_JOB} a job can contain. "
            "Split it into several jobs."
        )
    check_api_version(count)


def check_api_version(count: int) -> None:
    """Any Jobs call that sends or returns the tasks of a job or run, on API 2.0 or 2.1."""
    if count > MAX_TASKS_BEFORE_API_2_2 and request_api_version.get() in ("2.0", "2.1"):
        raise invalid(
            f"Resources with more than {MAX_TASKS_BEFORE_API_2_2} tasks can only be handled by "
            f"API 2.2 and above. Your resource has {count} tasks"
        )


def check_concurrent_task_runs(running: int, limits: WorkspaceLimits) -> None:
    """run-now and runs/submit: a run that cannot start now because the workspace is full."""
    if running >= limits.concurrent_task_runs:
        raise ApiError(
            429,
            "REQUEST_LIMIT_EXCEEDED",
            f"The workspace already runs {running} task runs, its limit of concurrent task "
            f"runs is {limits.concurrent_task_runs}. Retry when some have finished.",
        )


class CreationRate:
    """Job creations and one-time runs of the last hour, against the hourly limit."""

    def __init__(self, limits: WorkspaceLimits) -> None:
        self._limit = limits.job_creations_per_hour
        self._lock = threading.Lock()
        self._times: collections.deque[float] = collections.deque()

    def record(self) -> None:
        """Count one creation, or refuse it with the service's message when over the limit."""
        now = time.monotonic()
        with self._lock:
            while self._times and now - self._times[0] >= RATE_WINDOW_SECONDS:
                self._times.popleft()
            if len(self._times) >= self._limit:
                raise ApiError(
                    400,
                    "INVALID_STATE",
                    f"There were already {len(self._times)} jobs created in past "
                    f"{RATE_WINDOW_SECONDS} seconds, exceeding rate limit: {self._limit} job "
                    f"creations per {RATE_WINDOW_SECONDS} seconds.",
                )
            self._times.append(now)


class ExecutionContextLimit(UnsupportedTaskError):
    """The task's cluster has no execution context left: the task run fails without running."""


class ExecutionContexts:
    """Open execution contexts per cluster: one for each task run executing on it."""

    def __init__(self, limit: int = WorkspaceLimits.execution_contexts_per_cluster) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._open: collections.Counter[str] = collections.Counter()

    @contextlib.contextmanager
    def open(self, cluster: str) -> Iterator[None]:
        """Hold one context of `cluster` while the task runs (see `cluster_identity`)."""
        with self._lock:
            if self._open[cluster] >= self.limit:
                raise ExecutionContextLimit(
                    f"Too many execution contexts are open right now. (Limit set to {self.limit})"
                )
            self._open[cluster] += 1
        try:
            yield
        finally:
            with self._lock:
                self._open[cluster] -= 1


def cluster_identity(run_id: int, cluster_key: str) -> str:
    """One cluster: an all-purpose cluster is shared by every run naming it, a job cluster or
    new_cluster belongs to its run."""
    if cluster_key.startswith("existing_cluster:"):
        return cluster_key
    return f"{run_id}/{cluster_key}"
