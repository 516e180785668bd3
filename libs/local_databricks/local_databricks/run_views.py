"""JSON views of runs and task runs, shaped like Jobs API 2.2 `Run`, `RunTask`, `RunOutput`."""

from __future__ import annotations

from typing import Any

from local_databricks.executor import log_tail
from local_databricks.scheduler import Run, TaskRun

NOTEBOOK_RESULT_LIMIT = 5 * 1024 * 1024
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


def task_dict(run: Run, task: TaskRun, base_url: str) -> dict[str, Any]:
    out = {
        "run_id": task.run_id,
        "task_key": task.task_key,
        "state": _state(task.life_cycle_state, task.result_state, task.state_message),
        "attempt_number": 0,
        "run_page_url": f"{base_url}/run/{run.run_id}#task-{task.run_id}",
        **_durations(task.start_time, task.end_time),
    }
    return out | {k: task.spec[k] for k in _TASK_FIELDS if k in task.spec}


def run_dict(run: Run, base_url: str, include_history: bool = False) -> dict[str, Any]:
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
        "run_page_url": f"{base_url}/run/{run.run_id}",
        "tasks": [task_dict(run, t, base_url) for t in run.tasks],
        "job_clusters": run.job_clusters,
        "attempt_number": 0,
        **_durations(run.start_time, run.end_time),
    }
    if run.params:
        out["overriding_parameters"] = run.params
    if include_history:
        out["repair_history"] = [
            {
                "type": "ORIGINAL",
                "id": run.run_id,
                "start_time": run.start_time,
                "end_time": run.end_time,
                "state": out["state"],
                "task_run_ids": [t.run_id for t in run.tasks],
            }
        ]
    return out


def task_run_dict(run: Run, task: TaskRun, base_url: str) -> dict[str, Any]:
    """runs/get on a task run id: the task as a run of its own."""
    out = task_dict(run, task, base_url)
    out |= {
        "run_name": run.run_name,
        "run_type": run.run_type,
        "format": "SINGLE_TASK",
        "tasks": [task_dict(run, task, base_url)],
        "parent_run_id": run.run_id,
        "number_in_job": run.number_in_job or run.run_id,
        "job_id": run.job_id,
    }
    return out


def output_dict(run: Run, task: TaskRun, base_url: str) -> dict[str, Any]:
    out: dict[str, Any] = {"metadata": task_run_dict(run, task, base_url)}
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
        out["error"] = outcome.error
        if outcome.error_trace:
            out["error_trace"] = outcome.error_trace
    return out
