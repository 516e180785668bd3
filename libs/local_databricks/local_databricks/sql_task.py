"""The sql_task of a job run: a workspace SQL file run statement by statement on the warehouse.

Parameters (the task's, then the run's job_parameters and sql_params) fill the file's named
parameter markers (`:name`). Saved queries, alerts and dashboards are objects of Databricks SQL
the emulator does not keep, so tasks naming them are refused with the way round.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from local_databricks.executor import Outcome, UnsupportedTaskError
from local_databricks.layout import StateLayout
from local_databricks.sql_text import split_statements
from local_databricks.sql_warehouse import WAREHOUSE_ID, Statement, Warehouse

REFUSED = {
    "query": "a saved query (Queries API), which the emulator does not keep",
    "alert": "a Databricks SQL alert, which the emulator does not emulate",
    "dashboard": "a Databricks SQL dashboard, which the emulator does not emulate",
}


def run_sql_task(
    warehouse: Warehouse,
    layout: StateLayout,
    task: dict[str, Any],
    params: dict[str, Any],
    log_path: Path,
    should_stop: Callable[[], str | None],
) -> Outcome:
    body = task["sql_task"]
    key = task["task_key"]
    for kind, what in REFUSED.items():
        if kind in body:
            raise UnsupportedTaskError(
                f"Task {key!r}: sql_task.{kind} needs {what}; put the SQL in a workspace file "
                "and use sql_task.file {path: ...} instead"
            )
    if "file" not in body:
        raise UnsupportedTaskError(f"Task {key!r}: sql_task needs file {{path: ...}}")
    if body["warehouse_id"] != WAREHOUSE_ID:
        raise UnsupportedTaskError(
            f"Task {key!r}: SQL warehouse {body['warehouse_id']} does not exist; the emulator "
            f"has one local SQL warehouse, id {WAREHOUSE_ID}"
        )
    file = body["file"]
    if file.get("source") == "GIT":
        raise UnsupportedTaskError(f"Task {key!r}: sql_task.file source GIT is not supported; "
                                   "use WORKSPACE")
    local = layout.workspace_path(file["path"])
    if not local.is_file():
        raise FileNotFoundError(f"SQL file {file['path']} not found in the workspace; import it")
    values = {
        **body.get("parameters", {}),
        **params.get("job_parameters", {}),
        **params.get("sql_params", {}),
    }
    parameters = [{"name": name, "value": str(value)} for name, value in values.items()]
    statements = split_statements(local.read_text())
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        for number, text in enumerate(statements, 1):
            print(f"-- statement {number} of {len(statements)}\n{text};", file=log, flush=True)
            statement = warehouse.submit(Statement(text=text, parameters=parameters))
            while not statement.done:
                reason = should_stop()
                if reason:
                    warehouse.cancel(statement)
                    verb = "canceled" if reason == "CANCELED" else "timed out"
                    return Outcome(reason, f"Run {verb}")
                statement.wait(0.2)
            if statement.state != "SUCCEEDED":
                error = (statement.error or {}).get("message", statement.state)
                print(f"-- {statement.state}: {error}", file=log, flush=True)
                message = f"Statement {number} of {file['path']} failed: {error}"
                return Outcome("FAILED", message, error=message, error_trace=text)
            print(f"-- {statement.manifest['total_row_count']} row(s)", file=log, flush=True)
    return Outcome("SUCCESS", "")
