"""Job cluster specs built from the environment, so no DAG repeats a cluster dict."""

from __future__ import annotations

from typing import Any

from dataplatform.config import Environment

DEFAULT_JOB_CLUSTER_KEY = "main"


def new_cluster(env: Environment, **overrides: Any) -> dict[str, Any]:
    """Return a ``new_cluster`` spec; ``overrides`` replace top-level keys for one job."""
    cluster = env.cluster
    spec: dict[str, Any] = {
        "spark_version": cluster.spark_version,
        "autoscale": {
            "min_workers": cluster.autoscale.min_workers,
            "max_workers": cluster.autoscale.max_workers,
        },
        "custom_tags": dict(cluster.tags),
    }
    optional = {
        "node_type_id": cluster.node_type_id,
        "instance_pool_id": cluster.instance_pool_id,
        "policy_id": cluster.policy_id,
    }
    spec.update({key: value for key, value in optional.items() if value is not None})
    spec.update(overrides)
    return spec


def job_clusters(env: Environment, key: str = DEFAULT_JOB_CLUSTER_KEY) -> list[dict[str, Any]]:
    """Return the ``job_clusters`` list of a multi-task job: one shared cluster named ``key``."""
    return [{"job_cluster_key": key, "new_cluster": new_cluster(env)}]
