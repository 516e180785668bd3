"""What a DAG's runs did, measured from outside Airflow: Databricks runs and cluster starts from
the emulator's usage ledger, rows written per table from the Delta logs, and for a failed task the
Databricks run page and its first error line."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from local_stack.emulator_process import EmulatorEndpoint


@dataclass(frozen=True)
class TaskFailure:
    task_id: str
    run_page: str | None  # the Databricks run page, when a Databricks run failed
    error: str  # its first line


@dataclass(frozen=True)
class DagResult:
    dag_id: str
    state: str
    seconds: float
    databricks_runs: int
    cluster_starts: int
    cluster_seconds: float
    rows_written: Mapping[str, int] = field(default_factory=dict)  # table -> rows
    failures: tuple[TaskFailure, ...] = ()


@dataclass(frozen=True)
class UsageMark:
    """The emulator's counters and the Delta logs' newest versions at one moment."""

    run_ids: frozenset[int]
    cluster_starts: int
    cluster_seconds: float
    table_versions: Mapping[str, int]


def usage_mark(emulator: EmulatorEndpoint, state_dir: Path) -> UsageMark:
    usage = emulator.usage()
    return UsageMark(frozenset(r["run_id"] for r in usage["runs"]), usage["cluster_starts"],
                     usage["cluster_seconds"], delta_versions(state_dir))


def measure(dag_id: str, state: str, seconds: float, emulator: EmulatorEndpoint, state_dir: Path,
            before: UsageMark, failed_tasks: Iterable[str]) -> DagResult:
    """The DagResult of what happened since `before` (one DAG ran in between)."""
    after = usage_mark(emulator, state_dir)
    new_runs = sorted(after.run_ids - before.run_ids)
    failures = tuple(task_failure(emulator, dag_id, task_id, new_runs) for task_id in failed_tasks)
    return DagResult(
        dag_id, state, round(seconds, 1), len(new_runs),
        after.cluster_starts - before.cluster_starts,
        round(after.cluster_seconds - before.cluster_seconds, 1),
        rows_written(state_dir, before.table_versions), failures,
    )  # fmt: skip


def delta_tables(state_dir: Path) -> dict[str, Path]:
    """The emulator's tables (`catalog.schema.table` -> Delta folder), from its catalog journal."""
    catalog_file = state_dir / "warehouse" / "_catalog.json"
    if not catalog_file.is_file():
        return {}
    entries = json.loads(catalog_file.read_text())  # views have their SQL text, no location
    return {name: Path(entry["location"]) for name, entry in entries.items()
            if "location" in entry and (Path(entry["location"]) / "_delta_log").is_dir()}


def delta_versions(state_dir: Path) -> dict[str, int]:
    return {name: max(_commit_versions(path), default=-1)
            for name, path in delta_tables(state_dir).items()}


def _commit_versions(table: Path) -> list[int]:
    return [int(f.stem) for f in (table / "_delta_log").glob("*.json") if f.stem.isdigit()]


def rows_written(state_dir: Path, since: Mapping[str, int]) -> dict[str, int]:
    """Rows in the data files added by each table's commits after version `since[table]`."""
    written = {}
    for name, table in delta_tables(state_dir).items():
        first = since.get(name, -1) + 1
        rows = 0
        found = False
        for version in sorted(v for v in _commit_versions(table) if v >= first):
            found = True
            for line in (table / "_delta_log" / f"{version:020d}.json").read_text().splitlines():
                action = json.loads(line)
                if "add" in action and action["add"].get("stats"):
                    rows += json.loads(action["add"]["stats"]).get("numRecords", 0)
        if found:
            written[name] = rows
    return written


def task_failure(emulator: EmulatorEndpoint, dag_id: str, task_id: str, run_ids: Iterable[int]
                 ) -> TaskFailure:
    """The failed Databricks run (among `run_ids`) of an Airflow task: a submitted run by its
    name (`<env>.<dag>.<task>`), a workflow job's task by the key the provider gives it (the MD5
    of `<dag>__<task>`)."""
    task_key = hashlib.md5(f"{dag_id}__{task_id}".encode()).hexdigest()
    for run_id in reversed(list(run_ids)):
        run = emulator.get("/api/2.2/jobs/runs/get", run_id=run_id)
        submitted = run.get("run_name", "").endswith(f".{dag_id}.{task_id}")
        for task in run.get("tasks", []):  # outputs are per task run, as on Databricks
            state = task.get("state", {})
            ours = submitted or task.get("task_key") == task_key
            if ours and state.get("result_state") not in (None, "SUCCESS"):
                output = emulator.get("/api/2.2/jobs/runs/get-output", run_id=task["run_id"])
                error = output.get("error") or state.get("state_message") or state["result_state"]
                return TaskFailure(task_id, run.get("run_page_url"), first_line(error))
    return TaskFailure(task_id, None, "no failed Databricks run: see the task's log")


def first_line(text: str) -> str:
    return next((line.strip() for line in str(text).splitlines() if line.strip()), "")


def summary_table(results: list[DagResult]) -> str:
    header = ("DAG", "result", "seconds", "Databricks runs", "cluster starts", "cluster-seconds",
              "rows written")
    rows = [header] + [
        (r.dag_id, r.state, f"{r.seconds:.1f}", str(r.databricks_runs), str(r.cluster_starts),
         f"{r.cluster_seconds:.1f}",
         ", ".join(f"{table} {n}" for table, n in sorted(r.rows_written.items())) or "-")
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def failure_lines(result: DagResult) -> list[str]:
    """One line per failed task: DAG, task, Databricks run page, first error line."""
    if result.state == "success":
        return []
    if not result.failures:
        return [f"FAILED {result.dag_id}: run {result.state}, no failed task"]
    return [f"FAILED {result.dag_id} task {f.task_id}: {f.run_page or 'no Databricks run'}: "
            f"{f.error}" for f in result.failures]
