"""Cost accounting: how many clusters each run started, for how long they ran, and how long
their library installs took."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any


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
    """Per-run list of cluster lifetimes (every started run is listed); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_run: dict[int, list[ClusterUsage]] = {}
        self._alive = 0
        self._peak_alive = 0  # the most clusters alive at once: the cluster pool's bound

    def run_started(self, run_id: int) -> None:
        with self._lock:
            self._by_run.setdefault(run_id, [])

    def cluster_started(
        self, run_id: int, cluster_key: str, engine: str, spark_version: str, python: str
    ) -> ClusterUsage:
        usage = ClusterUsage(cluster_key, engine, spark_version, python, time.time())
        with self._lock:
            self._by_run.setdefault(run_id, []).append(usage)
            self._alive += 1
            self._peak_alive = max(self._peak_alive, self._alive)
        return usage

    def library_installed(self, usage: ClusterUsage, seconds: float) -> None:
        with self._lock:
            usage.libraries_installed += 1
            usage.library_install_seconds = round(usage.library_install_seconds + seconds, 3)

    def cluster_stopped(self, usage: ClusterUsage) -> None:
        with self._lock:
            usage.stopped_at = time.time()
            self._alive -= 1

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
