"""A minimal Clusters API: all-purpose clusters that jobs name by `existing_cluster_id`.

A cluster here is its spec and a state; the compute behind it is started per run by the
scheduler. States follow the service's: create and start go PENDING, then RUNNING; delete
terminates (the cluster stays listed as TERMINATED and can be started again), permanent-delete
removes it. Clusters live in STATE_DIR/clusters.json so they survive a restart.
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from pathlib import Path
from typing import Any

from local_databricks.errors import ApiError, not_found
from local_databricks.runtimes import runtime_for
from local_databricks.store import read_json, write_json

# How long a starting cluster stays PENDING: long enough for a client to see the state.
PENDING_SECONDS = 0.5
_ID_CHARS = string.ascii_lowercase + string.digits


def new_cluster_id() -> str:
    """Shaped like the service's ids, e.g. 1127-031500-abcd1234 (MMDD-HHMMSS-random)."""
    suffix = "".join(secrets.choice(_ID_CHARS) for _ in range(8))
    return f"{time.strftime('%m%d-%H%M%S', time.gmtime())}-{suffix}"


class ClusterStore:
    """Cluster records keyed by cluster_id; every change is persisted before it is answered."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self.clusters: dict[str, dict[str, Any]] = read_json(path, {})

    def _save(self) -> None:
        write_json(self._path, self.clusters)

    def get(self, cluster_id: str) -> dict[str, Any]:
        if cluster_id not in self.clusters:
            raise not_found(f"Cluster {cluster_id} does not exist")
        return self.clusters[cluster_id]

    def exists(self, cluster_id: str) -> bool:
        return cluster_id in self.clusters

    def spec(self, cluster_id: str) -> dict[str, Any]:
        """The cluster spec as created (spark_version, spark_conf, spark_env_vars, ...)."""
        return dict(self.get(cluster_id)["spec"])

    def create(self, spec: dict[str, Any]) -> str:
        runtime_for(spec["spark_version"], "spark_version")
        cluster_id = new_cluster_id()
        with self._lock:
            self.clusters[cluster_id] = {
                "cluster_id": cluster_id,
                "spec": spec,
                "state": "PENDING",
                "state_message": "Starting",
                "start_time": int(time.time() * 1000),
            }
            self._save()
        self._become_running(cluster_id)
        return cluster_id

    def start(self, cluster_id: str) -> None:
        with self._lock:
            cluster = self.get(cluster_id)
            if cluster["state"] != "TERMINATED":
                raise ApiError(
                    400,
                    "INVALID_STATE",
                    f"Cluster {cluster_id} is in unexpected state {cluster['state']}.",
                )
            cluster |= {"state": "PENDING", "state_message": "Starting"}
            cluster["start_time"] = int(time.time() * 1000)
            self._save()
        self._become_running(cluster_id)

    def terminate(self, cluster_id: str) -> None:
        with self._lock:
            cluster = self.get(cluster_id)
            cluster |= {"state": "TERMINATED", "state_message": "Terminated by user"}
            cluster["terminated_time"] = int(time.time() * 1000)
            self._save()

    def remove(self, cluster_id: str) -> None:
        with self._lock:
            self.get(cluster_id)
            del self.clusters[cluster_id]
            self._save()

    def _become_running(self, cluster_id: str) -> None:
        def run() -> None:
            with self._lock:
                cluster = self.clusters.get(cluster_id)
                if cluster and cluster["state"] == "PENDING":
                    cluster |= {"state": "RUNNING", "state_message": ""}
                    self._save()

        timer = threading.Timer(PENDING_SECONDS, run)
        timer.daemon = True
        timer.start()


class ClustersApi:
    def __init__(self, store: ClusterStore) -> None:
        self.store = store

    def routes(self) -> dict[tuple[str, str], tuple[tuple[str, str], Any]]:
        """(HTTP method, path after /api/2.x/) -> ((SDK API, method) for validation, handler)."""
        return {
            ("POST", "clusters/create"): (("clusters", "create"), self.create),
            ("GET", "clusters/get"): (("clusters", "get"), self.get),
            ("GET", "clusters/list"): (("clusters", "list"), self.list),
            ("POST", "clusters/start"): (("clusters", "start"), self.start),
            ("POST", "clusters/delete"): (("clusters", "delete"), self.delete),
            ("POST", "clusters/permanent-delete"): (
                ("clusters", "permanent_delete"),
                self.permanent_delete,
            ),
        }

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"cluster_id": self.store.create(body)}

    def get(self, body: dict[str, Any]) -> dict[str, Any]:
        return _details(self.store.get(body["cluster_id"]))

    def list(self, body: dict[str, Any]) -> dict[str, Any]:
        clusters = sorted(self.store.clusters.values(), key=lambda c: -c["start_time"])
        return {"clusters": [_details(c) for c in clusters]} if clusters else {}

    def start(self, body: dict[str, Any]) -> dict[str, Any]:
        self.store.start(body["cluster_id"])
        return {}

    def delete(self, body: dict[str, Any]) -> dict[str, Any]:
        self.store.terminate(body["cluster_id"])
        return {}

    def permanent_delete(self, body: dict[str, Any]) -> dict[str, Any]:
        self.store.remove(body["cluster_id"])
        return {}


def _details(cluster: dict[str, Any]) -> dict[str, Any]:
    """The ClusterDetails view: the spec plus what the service adds to it."""
    details = {
        **cluster["spec"],
        "cluster_id": cluster["cluster_id"],
        "cluster_source": "API",
        "creator_user_name": "local@emulator",
        "state": cluster["state"],
        "state_message": cluster["state_message"],
        "start_time": cluster["start_time"],
    }
    if "terminated_time" in cluster and cluster["state"] == "TERMINATED":
        details["terminated_time"] = cluster["terminated_time"]
    return details
