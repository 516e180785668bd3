"""Plan and apply the project's Databricks jobs in one environment's workspace (databricks-sdk).

Ownership: a job is the project's in environment ``<env>`` when its tags say
``managed_by: dataplatform`` and ``environment: <env>``. Only those are reset or deleted; any
other job is left alone, and one that already holds a name the project defines is an error
(the DAGs find jobs by name, so two jobs of one name would break them).

What counts as a change: every setting the definition states must be in the workspace with the
same value, and the job's tags must be exactly the definition's. Settings the service fills in
itself (defaults such as ``format`` or a task's ``run_if``, a policy's values) are not compared.
A setting removed from a definition leaves nothing to compare, so each job also carries
``definition_sha``, a hash of its whole definition: any edit to the code changes it.

The git sha: each job is tagged ``git_sha`` with the commit that last created or reset it. That
tag is not part of the comparison or the hash, so a commit that changes no job makes no reset,
and ``git_sha`` tells which commit's definition a job runs (not when it was last deployed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from databricks.sdk import WorkspaceClient
from databricks.sdk.service.jobs import JobSettings
from dataplatform.jobs import ENVIRONMENT_TAG, MANAGED_BY, MANAGED_BY_TAG

from deploy.errors import DeployError

GIT_SHA_TAG = "git_sha"
DEFINITION_TAG = "definition_sha"

Action = Literal["create", "reset", "delete", "unchanged"]
KEYED_ARRAYS = {"tasks": "task_key", "job_clusters": "job_cluster_key", "parameters": "name"}


@dataclass(frozen=True)
class JobChange:
    """One step of a plan; ``settings`` is what create or reset writes."""

    action: Action
    name: str
    job_id: int | None = None
    settings: Mapping[str, Any] | None = None
    differences: tuple[str, ...] = ()

    def describe(self) -> str:
        where = f" (job {self.job_id})" if self.job_id is not None else ""
        changed = f": {', '.join(self.differences)}" if self.differences else ""
        return f"{self.action:<9} {self.name}{where}{changed}"


def tagged_definitions(
    definitions: Mapping[str, Mapping[str, Any]], git_sha: str
) -> dict[str, dict[str, Any]]:
    """The definitions with their ``definition_sha`` and ``git_sha`` tags, each checked to be
    Jobs API settings databricks-sdk knows (a misspelt key would otherwise be dropped)."""
    tagged = {}
    for name, settings in definitions.items():
        unknown = differences(settings, JobSettings.from_dict(dict(settings)).as_dict())
        if unknown:
            raise DeployError(
                f"job {name}: {', '.join(unknown)} is not a Jobs API setting of that type "
                "(see databricks-sdk's JobSettings); fix the job's definition"
            )
        tags = {**settings["tags"], DEFINITION_TAG: _definition_sha(settings)}
        tagged[name] = {**settings, "tags": {**tags, GIT_SHA_TAG: git_sha}}
    return tagged


def unknown_notebooks(
    definitions: Mapping[str, Mapping[str, Any]], deployed: set[str]
) -> list[str]:
    """A job whose notebook is not among those the deploy uploads would fail at its first run."""
    return [
        f"job {name}: task {task['task_key']} runs {task['notebook_task']['notebook_path']}, "
        "which is not one of the notebooks deployed (notebooks/<name>.py)"
        for name, settings in definitions.items()
        for task in settings.get("tasks", [])
        if "notebook_task" in task and task["notebook_task"]["notebook_path"] not in deployed
    ]


def _definition_sha(settings: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def plan_jobs(
    client: WorkspaceClient, environment: str, desired: Mapping[str, Mapping[str, Any]]
) -> list[JobChange]:
    """What apply would do so that the environment's jobs are exactly ``desired`` (by name)."""
    owned: dict[str, list[int]] = {}
    for job in client.jobs.list():
        settings = job.settings or JobSettings()
        name, tags = settings.name or "", settings.tags or {}
        if tags.get(MANAGED_BY_TAG) == MANAGED_BY and tags.get(ENVIRONMENT_TAG) == environment:
            owned.setdefault(name, []).append(job.job_id)
        elif name in desired:
            raise DeployError(
                f"job {job.job_id} is named {name}, a job this project defines, but is not "
                f"tagged {MANAGED_BY_TAG}={MANAGED_BY}, {ENVIRONMENT_TAG}={environment}: "
                "rename or delete it in the workspace, then deploy again"
            )
    changes = []
    for name, settings in sorted(desired.items()):
        job_ids = sorted(owned.pop(name, []))
        if not job_ids:
            changes.append(JobChange("create", name, settings=settings))
            continue
        changes += [JobChange("delete", name, extra) for extra in job_ids[1:]]  # duplicates
        deployed = client.jobs.get(job_ids[0]).settings.as_dict()
        changed = _changes(settings, deployed)
        action: Action = "reset" if changed else "unchanged"
        changes.append(JobChange(action, name, job_ids[0], settings, changed))
    changes += [
        JobChange("delete", name, job_id)
        for name, job_ids in sorted(owned.items())
        for job_id in job_ids
    ]
    return changes


def _changes(desired: Mapping[str, Any], deployed: Mapping[str, Any]) -> tuple[str, ...]:
    def without_sha(tags: Mapping[str, str]) -> dict[str, str]:
        return {k: v for k, v in tags.items() if k != GIT_SHA_TAG}

    mine = _in_key_order({k: v for k, v in desired.items() if k != "tags"})
    found = differences(mine, _in_key_order(deployed))
    if without_sha(desired["tags"]) != without_sha(deployed.get("tags", {})):
        found = (*found, "tags")
    return tuple(found)


def _in_key_order(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Arrays whose entries have keys, sorted by them: the service need not keep our order."""
    return {
        name: sorted(value, key=lambda entry: entry.get(KEYED_ARRAYS[name], ""))
        if name in KEYED_ARRAYS and isinstance(value, list)
        else value
        for name, value in settings.items()
    }


def differences(desired: Any, actual: Any, path: str = "") -> list[str]:
    """Dotted paths of the values of ``desired`` that ``actual`` does not hold; keys only
    ``actual`` has are ignored (the service's defaults), and an empty map or list is the same
    as none (the service leaves them out)."""
    if actual is None and desired in ({}, []):
        return []
    if isinstance(desired, Mapping):
        if not isinstance(actual, Mapping):
            return [path or "."]
        return [
            found
            for key, value in desired.items()
            for found in differences(value, actual.get(key), f"{path}.{key}" if path else key)
        ]
    if isinstance(desired, list):
        if not isinstance(actual, list) or len(actual) != len(desired):
            return [path]
        return [
            found
            for i, (mine, theirs) in enumerate(zip(desired, actual, strict=True))
            for found in differences(mine, theirs, f"{path}[{i}]")
        ]
    return [] if desired == actual else [path]


def apply_jobs(
    client: WorkspaceClient, changes: Iterable[JobChange], progress: Callable[[str], None]
) -> None:
    """Carry out a plan: creates and resets first, so no job is missing while others change."""
    order = {"create": 0, "reset": 0, "delete": 1, "unchanged": 2}
    for change in sorted(changes, key=lambda c: order[c.action]):
        if change.action == "create":
            job_id = client.jobs.create(**_arguments(change.settings)).job_id
            progress(f"created   {change.name} (job {job_id})")
        elif change.action == "reset":
            client.jobs.reset(change.job_id, JobSettings.from_dict(dict(change.settings)))
            progress(f"reset     {change.name} (job {change.job_id})")
        elif change.action == "delete":
            client.jobs.delete(change.job_id)
            progress(f"deleted   {change.name} (job {change.job_id})")


def _arguments(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """jobs.create's keyword arguments: the typed fields of JobSettings."""
    parsed = JobSettings.from_dict(dict(settings or {}))
    values = {field.name: getattr(parsed, field.name) for field in fields(parsed)}
    return {name: value for name, value in values.items() if value is not None}
