"""Runs on disk: they outlive the server, as runs outlive a Databricks control-plane restart.

Each run is STATE_DIR/runs/<run_id>/run.json, rewritten atomically on every change of state, so
a killed server loses at most the change it was making. Run ids (shared by job runs, task runs
and repairs) come from a counter kept in STATE_DIR/run_ids.json and reserved in blocks: an id is
never handed out twice, whatever happened to the server, and never names an existing run
directory.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from local_databricks.executor import Outcome
from local_databricks.run_model import Attempt, Run, TaskRun
from local_databricks.store import read_json, write_json

RUN_FILE = "run.json"
ID_BLOCK = 1000
# Apart from job ids (which start at 1), so that one is never taken for the other.
FIRST_RUN_ID = 1000
_RUN_FIELDS = [f.name for f in fields(Run) if f.name not in ("tasks", "attempts", "changed")]
_TASK_FIELDS = [f.name for f in fields(TaskRun) if f.name not in ("outcome", "log_path")]


def run_to_dict(run: Run) -> dict[str, Any]:
    return {
        **{name: getattr(run, name) for name in _RUN_FIELDS},
        "tasks": [_task_to_dict(task) for task in run.tasks],
        "attempts": [asdict(attempt) for attempt in run.attempts],
    }


def _task_to_dict(task: TaskRun) -> dict[str, Any]:
    return {
        **{name: getattr(task, name) for name in _TASK_FIELDS},
        "outcome": asdict(task.outcome) if task.outcome else None,
        "log_path": str(task.log_path) if task.log_path else None,
    }


def run_from_dict(data: dict[str, Any]) -> Run:
    run = Run(
        **{name: data[name] for name in _RUN_FIELDS if name in data},
        tasks=[_task_from_dict(task) for task in data["tasks"]],
    )
    run.attempts = [Attempt(**attempt) for attempt in data["attempts"]]
    return run


def _task_from_dict(data: dict[str, Any]) -> TaskRun:
    task = TaskRun(**{name: data[name] for name in _TASK_FIELDS if name in data})
    task.outcome = Outcome(**data["outcome"]) if data.get("outcome") else None
    task.log_path = Path(data["log_path"]) if data.get("log_path") else None
    return task


class RunStore:
    """The run files under one runs directory, and the run id counter."""

    def __init__(self, runs_dir: Path, ids_file: Path) -> None:
        self._dir, self._ids_file = runs_dir, ids_file
        self._lock = threading.Lock()
        reserved = read_json(ids_file, {"reserved_below": FIRST_RUN_ID})["reserved_below"]
        # Past every id on disk too (runs/<run_id>/<task_run_id>): the directories of a state
        # dir older than the counter file.
        dirs = [*runs_dir.glob("*"), *runs_dir.glob("*/*")]
        used = [int(p.name) for p in dirs if p.name.isdigit() and p.is_dir()]
        self._next = max([reserved, *(i + 1 for i in used)])
        self._reserved_below = self._next

    def next_id(self) -> int:
        with self._lock:
            if self._next >= self._reserved_below:
                self._reserved_below = self._next + ID_BLOCK
                write_json(self._ids_file, {"reserved_below": self._reserved_below})
            run_id, self._next = self._next, self._next + 1
            return run_id

    def load(self) -> list[Run]:
        """Every stored run, oldest first."""
        files = sorted(self._dir.glob(f"*/{RUN_FILE}"), key=lambda p: int(p.parent.name))
        return [run_from_dict(read_json(path, None)) for path in files]

    def save(self, run: Run) -> None:
        """Call with run.changed held, so the file is one consistent state of the run."""
        path = self._dir / str(run.run_id) / RUN_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, run_to_dict(run))

    def delete(self, run_id: int) -> None:
        """runs/delete: the run's record, logs and outputs go."""
        shutil.rmtree(self._dir / str(run_id), ignore_errors=True)
