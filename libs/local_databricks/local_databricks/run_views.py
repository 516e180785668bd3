"""JSON views of runs and task runs, shaped like Jobs API 2.2 `Run`, `RunTask`, `RunOutput`."""

from __future__ import annotations

import re
from typing import Any

from local_databricks.executor import log_tail
from local_databricks.run_links import RunLinks
from local_databricks.scheduler import Attempt, Run, TaskRun

NOTEBOOK_RESULT_LIMIT = 5 * 1024 * 1024
# How much of a failed task's output error_trace carries: enough to show why, bounded.
ERROR_TAIL_LINES = 60
ERROR_TAIL_CHARS = 8000
# Errors that say only that the process stopped; the task's output says why.
_BARE_EXIT = re.compile(r"^(SystemExit: -?\d+|Task process exited with code -?\d+)$")
_ERROR_LINE = re.compile(r"\b(error|exception|failed|failure|fatal)\b", re.IGNORECASE)
_TASK_FIELDS = (
    "notebook_task",
    "spark_python_task",
    "python_wheel_task",
    "depends_on",
    "job_cluster_key",
    "existing_cluster_id",
    "new_cluster",
    "libraries",
    "timeout_seconds",
    "run_if",
    "description",
)


def _state(life_cycle_state: str, result_state: str | None, message: str) -> dict[str, Any]:
    state = {
        "life_cycle_state": life_cycle_state,
        "state_message": message,
        "user_cancelled_or_timedout": result_state in ("CANCELED", "TIMEDOUT"),
    }
    if result_state:
        state["result_state"] = result_state
    return state


def _durations(start: int, end: int) -> dict[str, int]:
    if not start:
        return {"start_time": 0}
    out = {"start_time": start, "setup_duration": 0, "cleanup_duration": 0}
    if end:
        out |= {"end_time": end, "execution_duration": end - start, "run_duration": end - start}
    return out


def task_dict(run: Run, task: TaskRun, links: RunLinks) -> dict[str, Any]:
    out = {
        "run_id": task.run_id,
        "task_key": task.task_key,
        "state": _state(_task_life_cycle(run, task), task.result_state, task.state_message),
        "attempt_number": 0,
        "run_page_url": links.page(run.run_id, task.run_id),
        **_durations(task.start_time, task.end_time),
    }
    return out | {k: task.spec[k] for k in _TASK_FIELDS if k in task.spec}


def _task_life_cycle(run: Run, task: TaskRun) -> str:
    """A task of a running run that waits for its upstream tasks is BLOCKED, as on Databricks
    ("The run is blocked on an upstream dependency"); PENDING is a task waiting for compute."""
    if task.life_cycle_state == "PENDING" and run.life_cycle_state == "RUNNING":
        waiting_for = set(task.depends_on)
        if any(not t.done for t in run.tasks if t.task_key in waiting_for):
            return "BLOCKED"
    return task.life_cycle_state


def run_dict(run: Run, links: RunLinks, include_history: bool = False) -> dict[str, Any]:
    out = {
        "job_id": run.job_id,
        "run_id": run.run_id,
        "run_name": run.run_name,
        "number_in_job": run.number_in_job or run.run_id,
        "original_attempt_run_id": run.run_id,
        "run_type": run.run_type,
        "format": "MULTI_TASK",
        "creator_user_name": "local@emulator",
        "state": _state(run.life_cycle_state, run.result_state, run.state_message),
        "run_page_url": links.page(run.run_id),
        "tasks": [task_dict(run, t, links) for t in run.tasks],
        "job_clusters": run.job_clusters,
        "attempt_number": 0,
        **_durations(run.start_time, run.end_time),
    }
    overriding = {k: v for k, v in run.params.items() if k != "job_parameters"}
    if overriding:
        out["overriding_parameters"] = overriding
    if "job_parameters" in run.params:  # the run's values, a list as Jobs API 2.2 has it
        out["job_parameters"] = [{"name": name, "value": value}
                                 for name, value in run.params["job_parameters"].items()]
    if include_history:
        out["repair_history"] = [_history_item(a) for a in run.attempts]
    return out


def _history_item(attempt: Attempt) -> dict[str, Any]:
    item = {
        "type": attempt.type,
        "id": attempt.id,
        "start_time": attempt.start_time,
        "state": _state(attempt.life_cycle_state, attempt.result_state, attempt.state_message),
        "task_run_ids": attempt.task_run_ids,
    }
    if attempt.end_time:
        item["end_time"] = attempt.end_time
    return item


def task_run_dict(run: Run, task: TaskRun, links: RunLinks) -> dict[str, Any]:
    """runs/get on a task run id: the task as a run of its own."""
    out = task_dict(run, task, links)
    out |= {
        "run_name": run.run_name,
        "run_type": run.run_type,
        "format": "SINGLE_TASK",
        "tasks": [task_dict(run, task, links)],
        "parent_run_id": run.run_id,
        "number_in_job": run.number_in_job or run.run_id,
        "job_id": run.job_id,
    }
    return out


def output_dict(run: Run, task: TaskRun, links: RunLinks) -> dict[str, Any]:
    out: dict[str, Any] = {"metadata": task_run_dict(run, task, links)}
    outcome = task.outcome
    if "notebook_task" in task.spec:
        result = (outcome.result if outcome else None) or ""
        out["notebook_output"] = {
            "result": result[:NOTEBOOK_RESULT_LIMIT],
            "truncated": len(result) > NOTEBOOK_RESULT_LIMIT,
        }
    elif task.log_path is not None:
        out["logs"], out["logs_truncated"] = log_tail(task.log_path)
    if outcome and outcome.error:
        out |= _failure(outcome.error, outcome.error_trace, _output_tail(task))
    return out


def _output_tail(task: TaskRun) -> str:
    if task.log_path is None:
        return ""
    lines = log_tail(task.log_path)[0].splitlines()[-ERROR_TAIL_LINES:]
    return "\n".join(lines)[-ERROR_TAIL_CHARS:]


def _failure(error: str, trace: str | None, tail: str) -> dict[str, str]:
    """`error`: one line saying why (what the provider logs); `error_trace`: the traceback and
    the last lines the task printed. A bare exit ("SystemExit: 2") is explained by the first
    line of the output's tail that reads like an error, e.g. argparse's usage error."""
    if _BARE_EXIT.match(error):
        reason = next((line.strip() for line in tail.splitlines() if _ERROR_LINE.search(line)), "")
        if reason:
            error = f"{reason} ({error})"
    parts = [trace.rstrip()] if trace and trace.strip() not in tail else []
    if tail.strip():
        parts.append(f"--- last lines of the task's output ---\n{tail.rstrip()}")
    return {"error": error, "error_trace": "\n".join(parts)} if parts else {"error": error}
