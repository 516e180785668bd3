"""Job cluster specs built from the environment, so no DAG repeats a cluster dict."""

from __future__ import annotations

from typing import Any

from dataplatform.config import Environment

DEFAULT_JOB_CLUSTER_KEY = "main"
# The catalog two-level names resolve in on the cluster (a job cluster's default is
# hive_metastore): the environment's, so a name that misses its catalog stays in the environment.
INITIAL_CATALOG_CONF = "spark.databricks.sql.initial.catalog.name"

# A driver-only cluster: dbt sends its SQL to a SQL warehouse, the cluster only runs dbt itself.
SINGLE_NODE = {
    "num_workers": 0,
    "spark_conf": {"spark.databricks.cluster.profile": "singleNode", "spark.master": "local[*]"},
}


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
        "spark_conf": {INITIAL_CATALOG_CONF: env.unity_catalog.catalog},
        "data_security_mode": cluster.data_security_mode,
    }
    optional = {
        "node_type_id": cluster.node_type_id,
        "instance_pool_id": cluster.instance_pool_id,
        "policy_id": cluster.policy_id,
        "single_user_name": cluster.single_user_name,
    }
    spec.update({key: value for key, value in optional.items() if value is not None})
    spec.update(overrides)
    return spec


def dbt_cluster(env: Environment) -> dict[str, Any]:
    """The single-node cluster the dbt runner runs on, with the warehouse credentials as
    ``{{secrets/<scope>/<key>}}`` references (resolved by Databricks at cluster start, never
    seen by Airflow) and the catalog dbt reads and writes."""
    spec = new_cluster(env, **SINGLE_NODE)
    del spec["autoscale"]
    spec["spark_conf"] = {**new_cluster(env)["spark_conf"], **SINGLE_NODE["spark_conf"]}
    spec["custom_tags"] = {**spec["custom_tags"], "ResourceClass": "SingleNode"}
    spec["spark_env_vars"] = {"DBT_CATALOG": env.unity_catalog.catalog, **dbt_secret_env(env)}
    return spec


def dbt_secret_env(env: Environment) -> dict[str, str]:
    """The env vars dbt's profile reads, as secret references (empty where dbt needs none).

    Payloads are Airflow templates: each reference is written as a Jinja string literal so that
    rendering yields ``{{secrets/<scope>/<key>}}`` for Databricks to resolve.
    """
    credentials = env.dbt.credentials
    if credentials is None:
        return {}
    keys = {
        "DATABRICKS_HOST": credentials.host_key,
        "DATABRICKS_HTTP_PATH": credentials.http_path_key,
        "DATABRICKS_CLIENT_ID": credentials.client_id_key,
        "DATABRICKS_CLIENT_SECRET": credentials.client_secret_key,
        "DATABRICKS_TOKEN": credentials.token_key,
    }
    return {
        var: f"{{{{ '{{{{secrets/{credentials.scope}/{key}}}}}' }}}}"
        for var, key in keys.items()
        if key is not None
    }


def job_clusters(
    env: Environment, key: str = DEFAULT_JOB_CLUSTER_KEY, spec: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Return the ``job_clusters`` list of a multi-task job: one shared cluster named ``key``."""
    return [{"job_cluster_key": key, "new_cluster": spec or new_cluster(env)}]
