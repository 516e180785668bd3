"""Databricks' dynamic value references in task parameters (``{{job.run_id}}``,
``{{job.parameters.day}}``...), filled in when the task starts, as Databricks does; job
parameter values may hold references too.

Text in double braces outside the references' namespaces (``job.``, ``task.``, ``tasks.``,
``workspace.``) stays as it is, as on Databricks. A name inside them that the emulator does not
fill in (``{{tasks.<key>.values.<name>}}``, ``{{job.trigger.type}}``, a typo) fails the task
naming it, rather than reaching the task as text (Databricks refuses a mistyped one when the job
is saved).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from local_databricks.executor import UnsupportedTaskError
from local_databricks.run_model import Run, TaskRun

REFERENCE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
NAMESPACES = ("job.", "task.", "tasks.", "workspace.")


def references(run: Run, task: TaskRun) -> dict[str, str]:
    """The values the references of ``task`` of ``run`` take."""
    started = datetime.fromtimestamp(run.start_time / 1000, UTC)
    values = {
        "job.id": str(run.job_id),
        "job.name": run.run_name,
        "job.run_id": str(run.run_id),
        "job.repair_count": str(max(len(run.attempts) - 1, 0)),
        "job.start_time.iso_date": started.date().isoformat(),
        "job.start_time.iso_datetime": started.isoformat(),
        "job.start_time.timestamp_ms": str(run.start_time),
        "task.name": task.task_key,
        "task.run_id": str(task.run_id),
        # The older names Databricks still fills in.
        "job_id": str(run.job_id),
        "run_id": str(task.run_id),
        "parent_run_id": str(run.run_id),
        "task_key": task.task_key,
        "start_date": started.date().isoformat(),
        "start_time": str(run.start_time),
    }
    for name, value in run.params.get("job_parameters", {}).items():
        values[f"job.parameters.{name}"] = resolve(str(value), values, task.task_key)
    return values


def resolve(value: Any, values: dict[str, str], task_key: str) -> Any:
    """``value`` (a parameter string, or a list or map of them) with its references filled."""
    if isinstance(value, list):
        return [resolve(item, values, task_key) for item in value]
    if isinstance(value, dict):
        return {key: resolve(item, values, task_key) for key, item in value.items()}
    if not isinstance(value, str):
        return value

    def fill(match: re.Match[str]) -> str:
        if match[1] not in values and not match[1].startswith(NAMESPACES):
            return match[0]
        if match[1] not in values:
            raise UnsupportedTaskError(
                f"Task {task_key!r}: the dynamic value reference {match[0]} is not one the local "
                f"emulator fills in (it knows {', '.join('{{' + v + '}}' for v in values)})"
            )
        return values[match[1]]

    return REFERENCE.sub(fill, value)
