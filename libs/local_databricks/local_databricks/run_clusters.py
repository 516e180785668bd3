"""The clusters of one run, taken from the machine's cluster pool.

Tasks on the same cluster key (job_cluster_key, or one per new_cluster task, or the run's shared
compute) share one compute, started on first use, with each library installed once before the
first task that needs it. A cluster holds a pool slot until it stops: when the run ends, or
earlier when the run waits for a slot for another of its clusters and this one has no task
running (it starts again if a later task needs it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_databricks.cluster_env import ClusterEnv, ClusterEnvError, create_cluster_env
from local_databricks.cluster_pool import ClusterPool
from local_databricks.clusters_api import ClusterStore
from local_databricks.engine import Engine
from local_databricks.errors import ApiError
from local_databricks.executor import UnsupportedTaskError
from local_databricks.layout import StateLayout
from local_databricks.libraries import LibraryInstallError, install_library, library_id
from local_databricks.run_model import Run
from local_databricks.unity_catalog import initial_catalog
from local_databricks.usage import ClusterUsage, UsageLedger


@dataclass
class _Cluster:
    """One started cluster of a run: its compute, Python env and installed libraries."""

    name: str
    compute: Any
    usage: ClusterUsage
    env: ClusterEnv
    log_path: Path
    libraries: dict[str, str | None] = field(default_factory=dict)  # id -> failure or None
    tasks_running: int = 0


class ClusterSetupError(RuntimeError):
    """The task's cluster could not be set up: the task ends in INTERNAL_ERROR."""


class ClusterWaitStopped(Exception):
    """The run was cancelled or timed out while its task waited for a pool slot."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RunClusters:
    def __init__(
        self,
        run: Run,
        engine: Engine,
        usage: UsageLedger,
        layout: StateLayout,
        clusters: ClusterStore,
        pool: ClusterPool,
    ) -> None:
        self._run, self._engine, self._usage, self._layout = run, engine, usage, layout
        self._all_purpose, self._pool = clusters, pool
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._clusters: dict[str, _Cluster] = {}
        self._starts: dict[str, int] = {}  # key -> clusters started for it by this attempt

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

    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    @contextmanager
    def use(
        self, task: dict[str, Any], should_stop: Callable[[], str | None]
    ) -> Iterator[_Cluster]:
        """The task's cluster, started if needed (waiting for a pool slot until `should_stop`
        gives a reason: ClusterWaitStopped), with the task's libraries installed."""
        key = self.key_for(task)
        with self._key_lock(key):
            if key not in self._clusters:
                self._clusters[key] = self._start(key, self.spec_for(task), should_stop)
            cluster = self._clusters[key]
            cluster.tasks_running += 1
        try:
            with self._key_lock(key):
                self._install(cluster, task.get("libraries") or [])
            yield cluster
        finally:
            with self._key_lock(key):
                cluster.tasks_running -= 1

    def _start(
        self, key: str, spec: dict[str, Any] | None, should_stop: Callable[[], str | None]
    ) -> _Cluster:
        if not self._pool.acquire(lambda: should_stop() is not None, self._stop_idle):
            raise ClusterWaitStopped(should_stop() or "CANCELED")
        try:
            return self._start_compute(key, spec)
        except BaseException:
            self._pool.release()
            raise

    def _start_compute(self, key: str, spec: dict[str, Any] | None) -> _Cluster:
        # A repair starts the run's clusters again: each attempt gets its own env and log, and
        # so does a cluster started again after it made room in the pool.
        attempt = max(len(self._run.attempts) - 1, 0)
        restart = self._starts.get(key, 0)
        self._starts[key] = restart + 1
        name = (
            f"cluster-{key.replace(':', '-')}"
            + (f"-repair-{attempt}" if attempt else "")
            + (f"-restart-{restart}" if restart else "")
        )
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

    def _stop_idle(self) -> None:
        """Stop this run's clusters that run no task (a key being started or used is locked:
        skipped), so that its waiting task never waits on the run itself."""
        for key in list(self._clusters):
            key_lock = self._key_lock(key)
            if not key_lock.acquire(blocking=False):
                continue
            try:
                cluster = self._clusters.get(key)
                if cluster is not None and cluster.tasks_running == 0:
                    del self._clusters[key]
                    self._stop(cluster)
            finally:
                key_lock.release()

    def _stop(self, cluster: _Cluster) -> None:
        try:
            cluster.compute.stop()
        finally:
            self._usage.cluster_stopped(cluster.usage)
            self._pool.release()

    def stop_all(self) -> None:
        for key in list(self._clusters):
            self._stop(self._clusters.pop(key))
