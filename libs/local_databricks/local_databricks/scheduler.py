"""Run state machine: PENDING -> RUNNING -> (TERMINATING ->) TERMINATED, one thread per run.

A run's tasks start when their depends_on tasks are done and their run_if holds; tasks on the
same cluster key (job_cluster_key, or one per new_cluster task, or the run's shared compute)
share one compute, started on first use and stopped when the run ends. Every task run has its
own run_id. A repair reruns some tasks of a finished run in that same run: the run goes back to
PENDING, the rerun tasks get new task run ids, and each repair is one more attempt of the run.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_databricks.clusters_api import ClusterStore
from local_databricks.cluster_env import ClusterEnv, ClusterEnvError, create_cluster_env
from local_databricks.cluster_env import task_environment
from local_databricks.engine import Engine
from local_databricks.errors import ApiError
from local_databricks.executor import Outcome, TaskProcess, UnsupportedTaskError, build_spec
from local_databricks.faults import FaultInjector
from local_databricks.layout import StateLayout
from local_databricks.libraries import LibraryInstallError, install_library, library_id
from local_databricks.limits import ExecutionContexts, cluster_identity
from local_databricks.unity_catalog import initial_catalog
from local_databricks.sql_task import run_sql_task
from local_databricks.sql_warehouse import Warehouse
from local_databricks.usage import ClusterUsage, UsageLedger

TERMINAL = ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")
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


@dataclass
class _Cluster:
    """One started cluster of a run: its compute, Python env and installed libraries."""

    name: str
    compute: Any
    usage: ClusterUsage
    env: ClusterEnv
    log_path: Path
    libraries: dict[str, str | None] = field(default_factory=dict)  # id -> failure or None


class ClusterSetupError(RuntimeError):
    """The task's cluster could not be set up: the task ends in INTERNAL_ERROR."""


class _RunClusters:
    """The clusters of one run, started on first use; one start per cluster key, and each
    library installed once per cluster, before the first task that needs it runs."""

    def __init__(
        self,
        run: Run,
        engine: Engine,
        usage: UsageLedger,
        layout: StateLayout,
        clusters: ClusterStore,
    ) -> None:
        self._run, self._engine, self._usage, self._layout = run, engine, usage, layout
        self._all_purpose = clusters
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._clusters: dict[str, _Cluster] = {}

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

    def spec_for(self, task: dict[str, Any]) -> dict[str, Any] | None:
        """The cluster spec a task runs on; None for serverless compute."""
        if "job_cluster_key" in task:
            return next(
                c["new_cluster"]
                for c in self._run.job_clusters
                if c["job_cluster_key"] == task["job_cluster_key"]
            )
        if "new_cluster" in task:
            return task["new_cluster"]
        if "existing_cluster_id" in task:
            return self._all_purpose.spec(task["existing_cluster_id"])
        return None

    def cluster_for(self, task: dict[str, Any]) -> _Cluster:
        """The task's cluster, started if needed, with the task's libraries installed."""
        key = self.key_for(task)
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            if key not in self._clusters:
                self._clusters[key] = self._start(key, self.spec_for(task))
            cluster = self._clusters[key]
            self._install(cluster, task.get("libraries") or [])
            return cluster

    def _start(self, key: str, spec: dict[str, Any] | None) -> _Cluster:
        # A repair starts the run's clusters again: each attempt gets its own env and log.
        attempt = max(len(self._run.attempts) - 1, 0)
        name = f"cluster-{key.replace(':', '-')}" + (f"-repair-{attempt}" if attempt else "")
        cluster_dir = self._layout.runs / str(self._run.run_id) / name
        cluster_dir.mkdir(parents=True, exist_ok=True)
        log_path = cluster_dir.with_suffix(".log")
        try:
            env = create_cluster_env(self._layout, spec, cluster_dir / "env", log_path)
        except (ClusterEnvError, ApiError) as error:
            raise ClusterSetupError(f"Cluster {key} failed to start: {error}") from None
        compute = self._engine.start(key, log_path, initial_catalog(spec or {}))
        usage = self._usage.cluster_started(
            self._run.run_id, key, self._engine.name, env.runtime.key, env.runtime.python
        )
        return _Cluster(f"{self._run.run_id}-{key}", compute, usage, env, log_path)

    def _install(self, cluster: _Cluster, libraries: list[dict[str, Any]]) -> None:
        for library in libraries:
            lib_id = library_id(library)
            if lib_id not in cluster.libraries:
                started = time.monotonic()
                try:
                    install_library(
                        self._layout, cluster.env, library, cluster.name, cluster.log_path
                    )
                    cluster.libraries[lib_id] = None
                except LibraryInstallError as error:
                    cluster.libraries[lib_id] = str(error)
                self._usage.library_installed(cluster.usage, time.monotonic() - started)
            if cluster.libraries[lib_id]:
                raise ClusterSetupError(cluster.libraries[lib_id])

    def stop_all(self) -> None:
        for cluster in self._clusters.values():
            try:
                cluster.compute.stop()
            finally:
                self._usage.cluster_stopped(cluster.usage)


class Scheduler:
    def __init__(
        self,
        layout: StateLayout,
        engine: Engine,
        faults: FaultInjector,
        usage: UsageLedger,
        clusters: ClusterStore,
        warehouse: Warehouse,
    ) -> None:
        self.layout, self.engine, self.faults, self.usage = layout, engine, faults, usage
        self.clusters = clusters  # all-purpose clusters that tasks name by existing_cluster_id
        self.warehouse = warehouse  # runs sql_task tasks
        self.execution_contexts = ExecutionContexts()  # one per task run on a cluster
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
        run.attempts.append(
            Attempt(run.run_id, "ORIGINAL", run.start_time, [t.run_id for t in run.tasks])
        )
        with self._lock:
            self.runs[run.run_id] = run
            for task in run.tasks:
                self.task_runs[task.run_id] = (run, task)
        self.usage.run_started(run.run_id)
        self._launch(run)
        return run

    def _launch(self, run: Run) -> None:
        threading.Thread(
            target=self._execute, args=(run,), daemon=True, name=f"run-{run.run_id}"
        ).start()

    def repair(
        self,
        run: Run,
        *,
        rerun_tasks: list[str],
        all_failed: bool,
        with_dependents: bool,
        params: dict[str, Any],
    ) -> int:
        """Rerun the chosen tasks of a finished run, plus every task downstream of them that did
        not succeed (or every one, with_dependents); the others keep their results."""
        chosen = set(rerun_tasks)
        if all_failed:
            chosen |= {t.task_key for t in run.tasks if t.result_state not in SUCCEEDED}
        for task in _downstream(run.tasks, chosen):
            if with_dependents or task.result_state not in SUCCEEDED:
                chosen.add(task.task_key)
        repair_id = self.next_id()
        with run.changed:
            run.tasks = [
                TaskRun(self.next_id(), t.task_key, t.spec) if t.task_key in chosen else t
                for t in run.tasks
            ]
            rerun_ids = [t.run_id for t in run.tasks if t.task_key in chosen]
            run.attempts.append(Attempt(repair_id, "REPAIR", now_ms(), rerun_ids))
            run.params = _merged_params(run.params, params)
            run.life_cycle_state, run.result_state, run.state_message = "PENDING", None, ""
            run.end_time, run.cancel_requested, run.timed_out = 0, False, False
            run.faults = self.faults.take_run_faults()
        with self._lock:
            for task in run.tasks:
                self.task_runs[task.run_id] = (run, task)
        self._launch(run)
        return repair_id

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
            for task_run_id in [k for k, (r, _) in self.task_runs.items() if r is run]:
                del self.task_runs[task_run_id]

    # -- the run thread --------------------------------------------------------------------

    def _execute(self, run: Run) -> None:
        clusters = _RunClusters(run, self.engine, self.usage, self.layout, self.clusters)
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
        deadline = run.attempt_start + run.timeout_seconds * 1000
        if run.timeout_seconds and time.time() * 1000 > deadline:
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
        except ClusterSetupError as error:
            outcome = Outcome(
                "FAILED", str(error), error=str(error), life_cycle_state="INTERNAL_ERROR"
            )
        except Exception as error:  # noqa: BLE001 - e.g. the compute failed to start
            outcome = Outcome(
                "FAILED",
                f"{type(error).__name__}: {error}",
                error=f"{type(error).__name__}: {error}",
                error_trace=traceback.format_exc(),
            )
        with run.changed:
            task.outcome = outcome
            task.finish(outcome.life_cycle_state, outcome.result_state, outcome.message)
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

        if "sql_task" in task.spec:
            return run_sql_task(
                self.warehouse, self.layout, task.spec, run.params, task.log_path, should_stop
            )
        spec = build_spec(task.spec, run.params)
        cluster = clusters.cluster_for(task.spec)
        spec |= {
            "state_dir": str(self.layout.root),
            "task_key": task.task_key,
            "taskvalues_dir": str(self.layout.runs / str(run.run_id) / "taskvalues"),
            "hang": "hang" in run.faults,
            "spark_conf": cluster.env.spark_conf,
        }
        compute = cluster.compute
        env = task_environment(self.layout, cluster.env, compute.url)
        process = TaskProcess(spec, task_dir, cluster.env.python, env)
        cluster_id = cluster_identity(run.run_id, clusters.key_for(task.spec))
        with self.execution_contexts.open(cluster_id):
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
        # A task that its cluster could not run ends the run in INTERNAL_ERROR, as on Databricks.
        internal = any(t.life_cycle_state == "INTERNAL_ERROR" for t in run.tasks)
        with run.changed:
            run.life_cycle_state = "INTERNAL_ERROR" if internal else "TERMINATED"
            run.result_state = result
            run.state_message = message
            run.end_time = now_ms()
            attempt = run.attempts[-1]
            attempt.end_time, attempt.life_cycle_state = run.end_time, "TERMINATED"
            attempt.result_state, attempt.state_message = result, message
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


def _downstream(tasks: list[TaskRun], keys: set[str]) -> list[TaskRun]:
    """The tasks that depend, directly or not, on any of `keys`."""
    found: set[str] = set()
    frontier = set(keys)
    while frontier:
        frontier = {t.task_key for t in tasks if frontier & set(t.depends_on)} - found - keys
        found |= frontier
    return [t for t in tasks if t.task_key in found]


def _merged_params(params: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A repair's parameters replace the run's, map by map (job_parameters key by key)."""
    merged = dict(params) | overrides
    if "job_parameters" in params and "job_parameters" in overrides:
        merged["job_parameters"] = params["job_parameters"] | overrides["job_parameters"]
    return merged
