"""Run every DAG of the bundle once, end to end, and report what each cost on Databricks."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from local_stack.emulator_process import EmulatorEndpoint


@dataclass(frozen=True)
class DagResult:
    dag_id: str
    state: str
    seconds: float
    databricks_runs: int
    cluster_starts: int
    cluster_seconds: float


def _usage_counts(usage: dict) -> tuple[int, int, float]:
    return len(usage["runs"]), usage["cluster_starts"], usage["cluster_seconds"]


def run_all(dags_folder: Path, emulator: EmulatorEndpoint, logical_date: datetime,
            dag_ids: list[str] | None = None) -> list[DagResult]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=dags_folder, bundle_path=dags_folder)
    if bag.import_errors:
        errors = "\n".join(f"{path}: {error}" for path, error in bag.import_errors.items())
        raise RuntimeError(f"the DAG bundle has import errors:\n{errors}")
    unknown = sorted(set(dag_ids or []) - set(bag.dag_ids))
    if unknown:
        known = ", ".join(sorted(bag.dag_ids))
        raise ValueError(f"unknown DAG id(s) {', '.join(unknown)}; known: {known}")
    results = []
    for dag_id in sorted(dag_ids or bag.dag_ids):
        print(f"local run: {dag_id} ...", flush=True)
        before = _usage_counts(emulator.usage())
        started = time.monotonic()
        dag_run = bag.dags[dag_id].test(logical_date=logical_date)
        seconds = time.monotonic() - started
        after = _usage_counts(emulator.usage())
        runs, starts, cluster_seconds = (a - b for a, b in zip(after, before, strict=True))
        result = DagResult(dag_id, str(dag_run.state), round(seconds, 1), runs, starts,
                           round(cluster_seconds, 1))
        print(f"local run: {dag_id} -> {result.state} in {result.seconds} s", flush=True)
        results.append(result)
    return results


def summary_table(results: list[DagResult]) -> str:
    header = ("DAG", "result", "seconds", "Databricks runs", "cluster starts", "cluster-seconds")
    rows = [header] + [
        (r.dag_id, r.state, f"{r.seconds:.1f}", str(r.databricks_runs), str(r.cluster_starts),
         f"{r.cluster_seconds:.1f}")
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                     for row in rows)


def default_logical_date() -> datetime:
    """Yesterday at midnight UTC: the run a daily schedule would start today."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today.fromtimestamp(today.timestamp() - 86400, UTC)
