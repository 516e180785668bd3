"""What the service refuses when a job is created, reset, updated or submitted.

Checked on the normalised request, before anything is stored or started, so a job that cannot
run locally is refused at the call that defines it, naming the task and the fix:
- at most 1,000 tasks, and more than 100 only on Jobs API 2.2 (limits.py);
- task keys are unique, of letters, digits, - and _, and depends_on names a task of the same
  job, with no task depending on itself (directly or in a cycle);
- each task has a task type the local engine runs (JVM tasks are refused: Sail has no JVM);
- every cluster spec names a runtime the service offers (runtimes.py);
- existing_cluster_id names a cluster of the Clusters API, job_cluster_key one of job_clusters.
"""

from __future__ import annotations

import re
from graphlib import CycleError, TopologicalSorter
from typing import Any

from local_databricks.clusters_api import ClusterStore
from local_databricks.errors import invalid
from local_databricks.executor import SUPPORTED_KINDS
from local_databricks.limits import check_task_count
from local_databricks.runtimes import runtime_for

JVM_KINDS = ("spark_jar_task", "spark_submit_task")
TASK_KEY = re.compile(r"[A-Za-z0-9_-]+")
# Python tasks run on a cluster's process (executor); sql_task runs on the SQL warehouse.
RUNNABLE_KINDS = (*SUPPORTED_KINDS, "sql_task")


def check_job_settings(settings: dict[str, Any], clusters: ClusterStore, where: str = "") -> None:
    """jobs/create, the new_settings of jobs/reset, and the merged settings of jobs/update."""
    job_clusters = settings.get("job_clusters", [])
    for i, job_cluster in enumerate(job_clusters):
        _check_cluster_spec(job_cluster.get("new_cluster"), f"{where}job_clusters[{i}].new_cluster")
    check_tasks(
        settings.get("tasks", []),
        clusters,
        job_cluster_keys={c["job_cluster_key"] for c in job_clusters},
        where=f"{where}tasks",
    )


def check_tasks(
    tasks: list[dict[str, Any]],
    clusters: ClusterStore,
    job_cluster_keys: set[str] | None = None,
    where: str = "tasks",
) -> None:
    check_task_count(len(tasks))
    keys = [t["task_key"] for t in tasks]
    for key in keys:
        if not TASK_KEY.fullmatch(key):
            raise invalid(f"Task key '{key}' contains an invalid character. Only alphanumeric, "
                          "- and _ characters are permitted.")  # fmt: skip
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise invalid(f"Task key {duplicates[0]!r} is used by more than one task in '{where}'")
    _check_acyclic(tasks)
    for i, task in enumerate(tasks):
        name = f"{where}[{i}] ({task['task_key']!r})"
        for dep in task.get("depends_on", []):
            if dep["task_key"] not in keys:
                raise invalid(f"Task {name} depends on unknown task {dep['task_key']!r}")
        _check_kind(task, name)
        _check_cluster_spec(task.get("new_cluster"), f"{where}[{i}].new_cluster")
        cluster_id = task.get("existing_cluster_id")
        if cluster_id is not None and not clusters.exists(cluster_id):
            raise invalid(
                f"Task {name}: existing_cluster_id {cluster_id!r} does not exist. Create the "
                "cluster first (POST /api/2.1/clusters/create) or use new_cluster or "
                "job_cluster_key."
            )
        key = task.get("job_cluster_key")
        if key is not None and job_cluster_keys is not None and key not in job_cluster_keys:
            raise invalid(
                f"Task {name}: job_cluster_key {key!r} is not defined in the job's job_clusters"
            )


def _check_acyclic(tasks: list[dict[str, Any]]) -> None:
    """Refuse a task that depends on itself, directly or through other tasks: its run would
    wait forever."""
    upstream = {t["task_key"]: [d["task_key"] for d in t.get("depends_on", [])] for t in tasks}
    try:
        TopologicalSorter(upstream).prepare()
    except CycleError as error:
        cycle = error.args[1]  # in run order, the first task again at the end
        if len(cycle) == 2:
            raise invalid(
                f"Invalid dependency graph, task '{cycle[0]}' can not reference itself."
            ) from None
        raise invalid("Invalid dependency graph, the tasks "
                      f"{' -> '.join(cycle)} depend on each other in a cycle.") from None


def _check_kind(task: dict[str, Any], name: str) -> None:
    kinds = [k for k in task if k.endswith("_task")]
    if len(kinds) != 1:
        raise invalid(
            f"Task {name} needs exactly one task type, got {kinds or 'none'}; "
            f"the local engine runs {', '.join(RUNNABLE_KINDS)}"
        )
    (kind,) = kinds
    if kind in JVM_KINDS:
        raise invalid(
            f"Task {name}: {kind} needs a JVM, and the local engine (Sail, a Spark Connect "
            f"server) has none. Run it on Databricks, or package the code as a Python task "
            f"({', '.join(RUNNABLE_KINDS)})."
        )
    if kind not in RUNNABLE_KINDS:
        raise invalid(
            f"Task {name}: {kind} cannot run on the local engine; it runs "
            f"{', '.join(RUNNABLE_KINDS)}."
        )


def _check_cluster_spec(spec: dict[str, Any] | None, where: str) -> None:
    if spec is not None and "spark_version" in spec:
        runtime_for(spec["spark_version"], f"{where}.spark_version")
