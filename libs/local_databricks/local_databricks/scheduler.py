"""Run state machine, one thread per run: PENDING while the run's first cluster starts (or
waits for a slot in the cluster pool), RUNNING once a task runs on it, (TERMINATING ->)
TERMINATED at the end.

A run's tasks start when their depends_on tasks are done and their run_if holds; a task stays
PENDING until its cluster is up (see run_clusters). Every task run has its own run_id. A repair
reruns some tasks of a finished run in that same run: the run goes back to PENDING, the rerun
tasks get new task run ids, and each repair is one more attempt of the run.

Every change of a run's state is written to the run store before anyone can read it, so runs
survive a restart; a run that was active when the server stopped (or was killed) ends as a run
whose driver was lost.
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import Any

from local_databricks import dynamic_values
from local_databricks.cluster_env import task_environment
from local_databricks.cluster_pool import ClusterPool
from local_databricks.clusters_api import ClusterStore
from local_databricks.engine import Engine
from local_databricks.executor import Outcome, TaskProcess, UnsupportedTaskError, build_spec
from local_databricks.executor import stopped_outcome
from local_databricks.faults import FaultInjector
from local_databricks.layout import StateLayout
from local_databricks.limits import ExecutionContexts, cluster_identity
from local_databricks.processes import ProcessLedger
from local_databricks.run_clusters import ClusterSetupError, ClusterWaitStopped, RunClusters
from local_databricks.run_model import SUCCEEDED, Attempt, Run, TaskRun, now_ms
from local_databricks.run_store import RunStore
from local_databricks.sql_task import run_sql_task
from local_databricks.sql_warehouse import Warehouse
from local_databricks.store import read_json, write_json
from local_databricks.usage import UsageLedger


# The run state message while a job run waits for one of its job's runs to end.
QUEUED_AT_LIMIT = "Queued due to reaching maximum concurrent runs of the job."

class IdempotencyTokens:
    """idempotency_token -> run_id, kept on the runs themselves so that it survives a restart.
    The tokens of deleted runs are kept in deleted_run_tokens.json: the Jobs API answers a token
    whose run was deleted with an error, not with a new run."""

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler
        self._run_ids: dict[str, int] = {}
        self._deleted_file = scheduler.layout.root / "deleted_run_tokens.json"
        self._deleted: dict[str, int] = read_json(self._deleted_file, {})

    def __contains__(self, token: object) -> bool:
        return token in self._run_ids

    def __getitem__(self, token: str) -> int:
        return self._run_ids[token]

    def __setitem__(self, token: str, run_id: int) -> None:
        self._run_ids[token] = run_id
        found = self._scheduler.find(run_id)
        if found is not None:
            run = found[0]
            with run.changed:
                run.idempotency_token = token
                self._scheduler.store.save(run)

    def remember(self, run: Run) -> None:
        if run.idempotency_token:
            self._run_ids[run.idempotency_token] = run.run_id

    def forget(self, run: Run) -> None:
        """The run was deleted: its token now names a deleted run."""
        if run.idempotency_token:
            self._run_ids.pop(run.idempotency_token, None)
            self._deleted[run.idempotency_token] = run.run_id
            write_json(self._deleted_file, self._deleted)

    def deleted_run(self, token: str) -> int | None:
        return self._deleted.get(token)


class Scheduler:
    def __init__(
        self,
        layout: StateLayout,
        engine: Engine,
        faults: FaultInjector,
        usage: UsageLedger,
        clusters: ClusterStore,
        warehouse: Warehouse,
        pool: ClusterPool,
    ) -> None:
        self.layout, self.engine, self.faults, self.usage = layout, engine, faults, usage
        self.clusters = clusters  # all-purpose clusters that tasks name by existing_cluster_id
        self.warehouse = warehouse  # runs sql_task tasks
        self.pool = pool
        self.store = RunStore(layout.runs, layout.root / "run_ids.json")
        self.ledger = ProcessLedger(layout.processes_file)
        self.idempotency_tokens = IdempotencyTokens(self)
        self.execution_contexts = ExecutionContexts()  # one per task run on a cluster
        self._lock = threading.Lock()
        self._threads: dict[int, threading.Thread] = {}
        self.runs: dict[int, Run] = {}
        self.task_runs: dict[int, tuple[Run, TaskRun]] = {}
        for run in self.store.load():
            if not run.done:
                run.lose_driver()
                self.store.save(run)
            self._register(run)

    def _register(self, run: Run) -> None:
        with self._lock:
            self.runs[run.run_id] = run
            for task in run.tasks:
                self.task_runs[task.run_id] = (run, task)
        self.idempotency_tokens.remember(run)

    def next_id(self) -> int:
        return self.store.next_id()

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
        max_concurrent_runs: int | None = None,
        queue: bool = True,
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
            max_concurrent_runs=max_concurrent_runs,
            queue=queue,
        )
        run.attempts.append(
            Attempt(run.run_id, "ORIGINAL", run.start_time, [t.run_id for t in run.tasks])
        )
        at_limit = self._at_concurrency_limit(run)
        with run.changed:
            if at_limit and run.queue:  # QUEUED from the start, as run-now's run is there
                run.life_cycle_state, run.state_message = "QUEUED", QUEUED_AT_LIMIT
            self.store.save(run)
        self._register(run)
        self.usage.run_started(run.run_id)
        self._launch(run)
        return run

    def _at_concurrency_limit(self, run: Run) -> bool:
        """Whether as many runs of the run's job as its max_concurrent_runs are active before it."""
        if run.max_concurrent_runs is None:
            return False
        with self._lock:
            ahead = sum(
                1 for other in self.runs.values()
                if other.job_id == run.job_id and other.run_type == "JOB_RUN"
                and other.run_id < run.run_id and not other.done
            )  # fmt: skip
        return ahead >= run.max_concurrent_runs

    def _launch(self, run: Run) -> None:
        thread = threading.Thread(
            target=self._execute, args=(run,), daemon=True, name=f"run-{run.run_id}"
        )
        with self._lock:
            self._threads[run.run_id] = thread
        thread.start()

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
            self.store.save(run)
        self._register(run)
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
        self.idempotency_tokens.forget(run)
        self.store.delete(run.run_id)

    # -- the run thread --------------------------------------------------------------------

    def _execute(self, run: Run) -> None:
        clusters = RunClusters(
            run, self.engine, self.usage, self.layout, self.clusters, self.pool
        )
        try:
            if not self._take_turn(run):
                return
            self._sleep_fault(run, "slow_start")
            with run.changed:
                if run.cancel_requested:
                    self._skip_pending(run, "CANCELED", "Run canceled before start")
            self._schedule_tasks(run, clusters)
        except Exception:  # noqa: BLE001 - an emulator bug must end the run, not hang it
            with run.changed:
                message = "Emulator error: " + traceback.format_exc(limit=5)
                self._skip_pending(run, "FAILED", message)
        finally:
            clusters.stop_all()
        if "slow_finish" in run.faults:
            run.life_cycle_state = "TERMINATING"
            self._sleep_fault(run, "slow_finish")
        self._finish_run(run)

    def _take_turn(self, run: Run) -> bool:
        """A job's max_concurrent_runs: past it a run waits QUEUED, in run order, while the
        job's queue is enabled (Jobs API 2.2's default), else it ends SKIPPED at once."""
        with run.changed:
            while True:
                if not self._at_concurrency_limit(run):
                    if run.life_cycle_state == "QUEUED":
                        run.life_cycle_state, run.state_message = "PENDING", ""
                        self.store.save(run)
                    return True
                if not run.queue or run.cancel_requested:
                    message = (
                        "Run canceled while queued" if run.cancel_requested else
                        "Skipping this run because the limit of "
                        f"{run.max_concurrent_runs} maximum concurrent runs has been reached."
                    )  # fmt: skip
                    self._end_unstarted(run, "CANCELED" if run.cancel_requested else None,
                                        message)
                    return False
                if run.life_cycle_state != "QUEUED":
                    run.life_cycle_state, run.state_message = "QUEUED", QUEUED_AT_LIMIT
                    self.store.save(run)
                run.changed.wait(0.5)

    def _end_unstarted(self, run: Run, result: str | None, message: str) -> None:
        """End a run none of whose tasks started: TERMINATED CANCELED, or SKIPPED (no result)."""
        self._skip_pending(run, result or "SKIPPED", message)
        run.life_cycle_state = "TERMINATED" if result else "SKIPPED"
        run.result_state, run.state_message, run.end_time = result, message, now_ms()
        attempt = run.attempts[-1]
        attempt.end_time, attempt.life_cycle_state = run.end_time, run.life_cycle_state
        attempt.result_state, attempt.state_message = result, message
        self.store.save(run)
        run.changed.notify_all()

    def _sleep_fault(self, run: Run, kind: str) -> None:
        if kind in run.faults:
            time.sleep(float(run.faults[kind]["seconds"]))

    def _schedule_tasks(self, run: Run, clusters: RunClusters) -> None:
        """Start each task once it is ready, until every task is done; then wait for the
        task threads (a lost run's tasks are still stopping their processes)."""
        started: set[int] = set()
        threads: list[threading.Thread] = []
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
                    task.start_time = now_ms()
                    if verdict == "run":
                        thread = threading.Thread(
                            target=self._run_task, args=(run, task, clusters), daemon=True
                        )
                        thread.start()
                        threads.append(thread)
                    else:
                        task.finish("TERMINATED", verdict, f"Not run: {verdict.lower()}")
                    self.store.save(run)
                run.changed.wait(0.2)
        for thread in threads:
            thread.join()

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
        """End the tasks not done (`only_unstarted`: those not started yet); call with
        run.changed held."""
        ending = [t for t in run.tasks if not t.done and not (only_unstarted and t.start_time)]
        for task in ending:
            task.finish("TERMINATED", result, message)
        if ending:
            self.store.save(run)

    def _run_task(self, run: Run, task: TaskRun, clusters: RunClusters) -> None:
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
            if task.done:  # ended with its run when the server stopped
                return
            task.outcome = outcome
            task.finish(outcome.life_cycle_state, outcome.result_state, outcome.message)
            self.store.save(run)
            run.changed.notify_all()

    def _mark_running(self, run: Run, task: TaskRun) -> None:
        """The task's compute is up: the task, and the run if it was waiting, are RUNNING."""
        with run.changed:
            task.life_cycle_state = "RUNNING"
            if run.life_cycle_state == "PENDING":
                run.life_cycle_state = "RUNNING"
            self.store.save(run)
            run.changed.notify_all()

    def _run_process(self, run: Run, task: TaskRun, clusters: RunClusters, task_dir) -> Outcome:
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

        values = dynamic_values.references(run, task)
        params = dynamic_values.resolve(run.params, values, task.task_key)
        if "sql_task" in task.spec:
            self._mark_running(run, task)
            sql = task.spec["sql_task"]
            sql = sql | {"parameters": dynamic_values.resolve(sql.get("parameters", {}), values,
                                                              task.task_key)}
            return run_sql_task(self.warehouse, self.layout, task.spec | {"sql_task": sql},
                                params, task.log_path, should_stop)
        spec = build_spec(task.spec, params)
        spec |= {key: dynamic_values.resolve(spec[key], values, task.task_key)
                 for key in ("parameters", "named_parameters") if key in spec}
        try:
            with clusters.use(task.spec, should_stop) as cluster:
                self._mark_running(run, task)
                spec |= {
                    "state_dir": str(self.layout.root),
                    "task_key": task.task_key,
                    "taskvalues_dir": str(self.layout.runs / str(run.run_id) / "taskvalues"),
                    "hang": "hang" in run.faults,
                    "spark_conf": cluster.env.spark_conf,
                }
                env = task_environment(self.layout, cluster.env, cluster.compute.url)
                process = TaskProcess(spec, task_dir, cluster.env.python, env, self.ledger)
                cluster_id = cluster_identity(run.run_id, clusters.key_for(task.spec))
                with self.execution_contexts.open(cluster_id):
                    outcome = process.wait(should_stop)
                # What a failed task wrote stays too, as on Databricks.
                cluster.compute.catalog_changed()
                return outcome
        except ClusterWaitStopped as stopped:
            return stopped_outcome(stopped.reason)

    def _finish_run(self, run: Run) -> None:
        with run.changed:
            if run.done:  # ended as a lost driver when the server stopped
                return
            result, message = _run_result(run)
            # A task its cluster could not run ends the run in INTERNAL_ERROR, as on Databricks.
            internal = any(t.life_cycle_state == "INTERNAL_ERROR" for t in run.tasks)
            run.life_cycle_state = "INTERNAL_ERROR" if internal else "TERMINATED"
            run.result_state = result
            run.state_message = message
            run.end_time = now_ms()
            attempt = run.attempts[-1]
            attempt.end_time, attempt.life_cycle_state = run.end_time, "TERMINATED"
            attempt.result_state, attempt.state_message = result, message
            self.store.save(run)
            run.changed.notify_all()
        with self._lock:
            if self._threads.get(run.run_id) is threading.current_thread():
                del self._threads[run.run_id]

    def shutdown(self, timeout: float = 20.0) -> None:
        """End every active run as a lost driver (what a restart would find anyway), then wait
        for their task processes and computes to stop."""
        for run in list(self.runs.values()):
            with run.changed:
                if not run.done:
                    run.lose_driver()
                    run.cancel_requested = True
                    self.store.save(run)
                    run.changed.notify_all()
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0))


def _run_result(run: Run) -> tuple[str, str]:
    """The result state and message of a run whose tasks are all done."""
    if run.cancel_requested:
        return "CANCELED", "Run canceled"
    if run.timed_out:
        return "TIMEDOUT", f"Run timed out after {run.timeout_seconds} seconds"
    failed = [t for t in run.tasks if t.result_state not in ("SUCCESS", "EXCLUDED")]
    if not failed:
        return "SUCCESS", ""
    message = "; ".join(f"{t.task_key}: {t.state_message}" for t in failed)
    if any(t.result_state == "TIMEDOUT" for t in failed):
        return "TIMEDOUT", message
    return "FAILED", message


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
