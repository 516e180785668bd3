"""Run state machine: PENDING -> RUNNING -> (TERMINATING ->) TERMINATED, one thread per run.

A run's tasks start when their depends_on tasks are done and their run_if holds; tasks on the
same cluster key (job_cluster_key, or one per new_cluster task, or the run's shared compute)
share one compute, started on first use and stopped when the run ends. Every task run has its
own run_id.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from local_databricks.engine import Engine
from local_databricks.executor import Outcome, TaskProcess, UnsupportedTaskError, build_spec
from local_databricks.faults import FaultInjector
from local_databricks.layout import StateLayout
from local_databricks.sql_task import run_sql_task
from local_databricks.sql_warehouse import Warehouse
from local_databricks.usage import ClusterUsage, UsageLedger

TERMINAL = ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")


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
    changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def done(self) -> bool:
        return self.life_cycle_state in TERMINAL


class _RunClusters:
    """The computes of one run, started on first use; one start per cluster key."""

    def __init__(self, run: Run, engine: Engine, usage: UsageLedger, layout: StateLayout) -> None:
        self._run, self._engine, self._usage, self._layout = run, engine, usage, layout
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._computes: dict[str, tuple[Any, ClusterUsage]] = {}

    def key_for(self, task: dict[str, Any]) -> str:
        if "job_cluster_key" in task:
            key = task["job_cluster_key"]
            if key not in {c["job_cluster_key"] for c in self._run.job_clusters}:
                raise UnsupportedTaskError(
                    f"Task {task['task_key']!r}: job_cluster_key {key!r} is not "
                    "defined in the job's job_clusters"
                )
            return f"job_cluster:{key}"
        if "new_cluster" in task:
            return f"new_cluster:{task['task_key']}"
        if "existing_cluster_id" in task:
            return f"existing_cluster:{task['existing_cluster_id']}"
        return "serverless"

    def compute_for(self, key: str):
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            if key not in self._computes:
                log = (
                    self._layout.runs
                    / str(self._run.run_id)
                    / f"cluster-{key.replace(':', '-')}.log"
                )
                compute = self._engine.start(key, log)
                usage = self._usage.cluster_started(self._run.run_id, key, self._engine.name)
                self._computes[key] = (compute, usage)
            return self._computes[key][0]

    def stop_all(self) -> None:
        for compute, usage in self._computes.values():
            try:
                compute.stop()
            finally:
                self._usage.cluster_stopped(usage)


class Scheduler:
    def __init__(
        self,
        layout: StateLayout,
        engine: Engine,
        faults: FaultInjector,
        usage: UsageLedger,
        warehouse: Warehouse | None = None,
    ) -> None:
        self.layout, self.engine, self.faults, self.usage = layout, engine, faults, usage
        self.warehouse = warehouse  # runs sql_task tasks
        self._ids = itertools.count(int(time.time()) % 100000 * 1000)
        self._lock = threading.Lock()
        self.runs: dict[int, Run] = {}
        self.task_runs: dict[int, tuple[Run, TaskRun]] = {}

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def start(
        self,
        *,
        run_name: str,
        tasks: list[dict[str, Any]],
        job_id: int,
        run_type: str = "JOB_RUN",
        job_clusters: list | None = None,
        params: dict | None = None,
        timeout_seconds: int = 0,
        number_in_job: int = 0,
    ) -> Run:
        run = Run(
            run_id=self.next_id(),
            run_name=run_name,
            job_id=job_id,
            run_type=run_type,
            tasks=[TaskRun(self.next_id(), t["task_key"], t) for t in tasks],
            job_clusters=job_clusters or [],
            params=params or {},
            timeout_seconds=timeout_seconds or 0,
            number_in_job=number_in_job,
            faults=self.faults.take_run_faults(),
        )
        with self._lock:
            self.runs[run.run_id] = run
            for task in run.tasks:
                self.task_runs[task.run_id] = (run, task)
        self.usage.run_started(run.run_id)
        threading.Thread(
            target=self._execute, args=(run,), daemon=True, name=f"run-{run.run_id}"
        ).start()
        return run

    def find(self, run_id: int) -> tuple[Run, TaskRun | None] | None:
        with self._lock:
            if run_id in self.runs:
                return self.runs[run_id], None
            return self.task_runs.get(run_id)

    def cancel(self, run: Run) -> None:
        with run.changed:
            run.cancel_requested = True
            run.changed.notify_all()

    def delete(self, run: Run) -> None:
        with self._lock:
            self.runs.pop(run.run_id, None)
            for task in run.tasks:
                self.task_runs.pop(task.run_id, None)

    # -- the run thread --------------------------------------------------------------------

    def _execute(self, run: Run) -> None:
        clusters = _RunClusters(run, self.engine, self.usage, self.layout)
        try:
            self._sleep_fault(run, "slow_start")
            with run.changed:
                if run.cancel_requested:
                    self._skip_pending(run, "CANCELED", "Run canceled before start")
                else:
                    run.life_cycle_state = "RUNNING"
            self._schedule_tasks(run, clusters)
        except Exception:  # noqa: BLE001 - an emulator bug must end the run, not hang it
            self._skip_pending(run, "FAILED", "Emulator error: " + traceback.format_exc(limit=5))
        finally:
            clusters.stop_all()
        if "slow_finish" in run.faults:
            run.life_cycle_state = "TERMINATING"
            self._sleep_fault(run, "slow_finish")
        self._finish_run(run)

    def _sleep_fault(self, run: Run, kind: str) -> None:
        if kind in run.faults:
            time.sleep(float(run.faults[kind]["seconds"]))

    def _schedule_tasks(self, run: Run, clusters: _RunClusters) -> None:
        started: set[int] = set()
        with run.changed:
            while not all(t.done for t in run.tasks):
                if run.cancel_requested or self._deadline_passed(run):
                    reason = "CANCELED" if run.cancel_requested else "TIMEDOUT"
                    self._skip_pending(
                        run,
                        reason,
                        "Run canceled" if reason == "CANCELED" else "Run timed out",
                        only_unstarted=True,
                    )
                for task in run.tasks:
                    if task.run_id in started or task.done:
                        continue
                    verdict = self._readiness(run, task)
                    if verdict == "wait":
                        continue
                    started.add(task.run_id)
                    if verdict == "run":
                        task.life_cycle_state, task.start_time = "RUNNING", now_ms()
                        threading.Thread(
                            target=self._run_task, args=(run, task, clusters), daemon=True
                        ).start()
                    else:
                        task.start_time = now_ms()
                        task.finish("TERMINATED", verdict, f"Not run: {verdict.lower()}")
                run.changed.wait(0.2)

    def _readiness(self, run: Run, task: TaskRun) -> str:
        """'wait', 'run', or the result state of a task that will not run."""
        upstream = [t for t in run.tasks if t.task_key in task.depends_on]
        if not all(t.done for t in upstream):
            return "wait"
        ok = [t.result_state == "SUCCESS" for t in upstream]
        rule = task.spec.get("run_if", "ALL_SUCCESS")
        passes = {
            "ALL_SUCCESS": all(ok),
            "ALL_DONE": True,
            "NONE_FAILED": all(t.result_state in ("SUCCESS", "EXCLUDED") for t in upstream),
            "AT_LEAST_ONE_SUCCESS": any(ok) or not upstream,
            "ALL_FAILED": not any(ok),
            "AT_LEAST_ONE_FAILED": not all(ok),
        }[rule]
        if passes:
            return "run"
        return "UPSTREAM_FAILED" if rule == "ALL_SUCCESS" else "EXCLUDED"

    def _deadline_passed(self, run: Run) -> bool:
        if run.timeout_seconds and time.time() * 1000 > run.start_time + run.timeout_seconds * 1000:
            run.timed_out = True
        return run.timed_out

    def _skip_pending(self, run: Run, result: str, message: str, only_unstarted=False) -> None:
        for task in run.tasks:
            if not task.done and not (only_unstarted and task.life_cycle_state == "RUNNING"):
                task.finish("TERMINATED", result, message)

    def _run_task(self, run: Run, task: TaskRun, clusters: _RunClusters) -> None:
        task_dir = self.layout.runs / str(run.run_id) / str(task.run_id)
        task.log_path = task_dir / "output.log"
        try:
            outcome = self._run_process(run, task, clusters, task_dir)
        except UnsupportedTaskError as error:
            outcome = Outcome("FAILED", str(error), error=str(error))
        except Exception as error:  # noqa: BLE001 - e.g. the compute failed to start
            outcome = Outcome(
                "FAILED",
                f"{type(error).__name__}: {error}",
                error=f"{type(error).__name__}: {error}",
                error_trace=traceback.format_exc(),
            )
        with run.changed:
            task.outcome = outcome
            task.finish("TERMINATED", outcome.result_state, outcome.message)
            run.changed.notify_all()

    def _run_process(self, run: Run, task: TaskRun, clusters: _RunClusters, task_dir) -> Outcome:
        if "fail" in run.faults:
            message = run.faults["fail"].get("message", "Injected failure")
            return Outcome("FAILED", message, error=message)
        deadline = task.spec.get("timeout_seconds") or 0
        started = time.time()

        def should_stop() -> str | None:
            if run.cancel_requested:
                return "CANCELED"
            if self._deadline_passed(run) or (deadline and time.time() - started > deadline):
                return "TIMEDOUT"
            return None

        if "sql_task" in task.spec and self.warehouse is not None:
            return run_sql_task(
                self.warehouse, self.layout, task.spec, run.params, task.log_path, should_stop
            )
        spec = build_spec(task.spec, run.params, task_dir) | {
            "state_dir": str(self.layout.root),
            "task_key": task.task_key,
            "taskvalues_dir": str(self.layout.runs / str(run.run_id) / "taskvalues"),
            "hang": "hang" in run.faults,
        }
        compute = clusters.compute_for(clusters.key_for(task.spec))
        process = TaskProcess(spec, task_dir, compute.url, self.layout.driver_home)
        outcome = process.wait(should_stop)
        if outcome.result_state == "SUCCESS":
            compute.sync_catalog()
        return outcome

    def _finish_run(self, run: Run) -> None:
        results = [t.result_state for t in run.tasks]
        if run.cancel_requested:
            result, message = "CANCELED", "Run canceled"
        elif run.timed_out:
            result, message = "TIMEDOUT", f"Run timed out after {run.timeout_seconds} seconds"
        elif all(r in ("SUCCESS", "EXCLUDED") for r in results):
            result, message = "SUCCESS", ""
        else:
            failed = [t for t in run.tasks if t.result_state not in ("SUCCESS", "EXCLUDED")]
            result = "FAILED"
            message = "; ".join(f"{t.task_key}: {t.state_message}" for t in failed)
            if any(t.result_state == "TIMEDOUT" for t in failed):
                result = "TIMEDOUT"
        with run.changed:
            run.life_cycle_state, run.result_state = "TERMINATED", result
            run.state_message = message
            run.end_time = now_ms()
            run.changed.notify_all()

    def shutdown(self, timeout: float = 20.0) -> None:
        """Cancel every active run and wait for their task processes and computes to stop."""
        active = [run for run in list(self.runs.values()) if not run.done]
        for run in active:
            self.cancel(run)
        deadline = time.monotonic() + timeout
        for run in active:
            with run.changed:
                while not run.done and time.monotonic() < deadline:
                    run.changed.wait(0.2)
