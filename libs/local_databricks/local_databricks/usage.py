"""Cost accounting: how many clusters each run started, for how long they ran, and how long
their library installs took. Kept in STATE_DIR/usage.json, so a restart loses none of it."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from local_databricks.store import read_json, write_json


@dataclass
class ClusterUsage:
    cluster_key: str
    engine: str
    spark_version: str
    python: str
    started_at: float
    stopped_at: float | None = None
    libraries_installed: int = 0
    library_install_seconds: float = 0.0

    def seconds(self) -> float:
        return (self.stopped_at or time.time()) - self.started_at


class UsageLedger:
    """Per-run list of cluster lifetimes (every started run is listed); thread-safe.

    With a ``path``, every change is written there and the ledger starts from it: clusters a
    killed server left running count as stopped when that server last wrote the file."""

    def __init__(self, path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._path = path
        self._by_run: dict[int, list[ClusterUsage]] = {}
        self._alive = 0
        self._peak_alive = 0  # the most clusters alive at once: the cluster pool's bound
        if path is not None and path.exists():
            last_written = path.stat().st_mtime
            for run_id, clusters in read_json(path, {}).items():
                self._by_run[int(run_id)] = [
                    ClusterUsage(**c | {"stopped_at": c["stopped_at"] or last_written})
                    for c in clusters
                ]

    def _save(self) -> None:
        """Called with the lock held."""
        if self._path is not None:
            write_json(self._path, {str(run_id): [asdict(c) for c in clusters]
                                    for run_id, clusters in self._by_run.items()})

    def run_started(self, run_id: int) -> None:
        with self._lock:
            self._by_run.setdefault(run_id, [])
            self._save()

    def cluster_started(
        self, run_id: int, cluster_key: str, engine: str, spark_version: str, python: str
    ) -> ClusterUsage:
        usage = ClusterUsage(cluster_key, engine, spark_version, python, time.time())
        with self._lock:
            self._by_run.setdefault(run_id, []).append(usage)
            self._alive += 1
            self._peak_alive = max(self._peak_alive, self._alive)
            self._save()
        return usage

    def library_installed(self, usage: ClusterUsage, seconds: float) -> None:
        with self._lock:
            usage.libraries_installed += 1
            usage.library_install_seconds = round(usage.library_install_seconds + seconds, 3)
            self._save()

    def cluster_stopped(self, usage: ClusterUsage) -> None:
        with self._lock:
            usage.stopped_at = time.time()
            self._alive -= 1
            self._save()

    def run_usage(self, run_id: int) -> dict[str, Any]:
        with self._lock:
            clusters = list(self._by_run.get(run_id, []))
        return {
            "run_id": run_id,
            "cluster_starts": len(clusters),
            "cluster_seconds": round(sum(c.seconds() for c in clusters), 3),
            "clusters": [asdict(c) | {"seconds": round(c.seconds(), 3)} for c in clusters],
        }

    def totals(self) -> dict[str, Any]:
        with self._lock:
            run_ids = list(self._by_run)
            alive, peak_alive = self._alive, self._peak_alive
        runs = [self.run_usage(r) for r in run_ids]
        return {
            "clusters_alive": alive,
            "clusters_alive_peak": peak_alive,
            "cluster_starts": sum(r["cluster_starts"] for r in runs),
            "cluster_seconds": round(sum(r["cluster_seconds"] for r in runs), 3),
            "runs": runs,
        }
