"""Run every DAG of the bundle once, end to end, and report what each cost on Databricks."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from local_stack.emulator_process import EmulatorEndpoint
from local_stack.report import DagResult, measure, usage_mark


def schedule_order(dags: dict, day: datetime) -> list[str]:
    """DAG ids in the order a real day runs them: cron DAGs by the time they fire on `day`,
    then each Asset-scheduled DAG once the DAGs updating its Assets have run (as the scheduler
    starts it after their updates); other unscheduled DAGs last."""
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    restriction = TimeRestriction(earliest=day, latest=None, catchup=True)
    last = day + timedelta(days=366)

    def fires_at(dag_id: str) -> tuple[datetime, str]:
        timetable = coerce_to_core_timetable(dags[dag_id].timetable)
        info = timetable.next_dagrun_info(last_automated_data_interval=None,
                                          restriction=restriction)
        return (info.run_after if info else last), dag_id

    producers = {asset.name: dag_id for dag_id, dag in dags.items()
                 for task in dag.tasks for asset in task.outlets}

    def consumed(dag_id: str) -> set[str]:
        condition = getattr(dags[dag_id].timetable, "asset_condition", None)
        names = {asset.name for asset in getattr(condition, "objects", ())}
        return {producers[name] for name in names if name in producers}

    order: list[str] = []
    waiting = sorted(dags, key=fires_at)
    while waiting:
        ready = next((d for d in waiting if consumed(d) <= set(order)), waiting[0])
        order.append(ready)
        waiting.remove(ready)
    return order


def run_all(dags_folder: Path, emulator: EmulatorEndpoint, emulator_state: Path,
            logical_date: datetime, console: TextIO, dag_ids: list[str] | None = None
            ) -> list[DagResult]:
    """Each DAG (or those of `dag_ids`) once with dag.test(), in schedule order."""
    from airflow.dag_processing.dagbag import DagBag
    from dataplatform.dags import dag_test

    bag = DagBag(dag_folder=dags_folder, bundle_path=dags_folder)
    if bag.import_errors:
        errors = "\n".join(f"{path}: {error}" for path, error in bag.import_errors.items())
        raise RuntimeError(f"the DAG bundle has import errors:\n{errors}")
    unknown = sorted(set(dag_ids or []) - set(bag.dag_ids))
    if unknown:
        known = ", ".join(sorted(bag.dag_ids))
        raise ValueError(f"unknown DAG id(s) {', '.join(unknown)}; known: {known}")
    selected = {dag_id: bag.dags[dag_id] for dag_id in dag_ids or bag.dag_ids}
    results = []
    for dag_id in schedule_order(selected, logical_date):
        print(f"local run: {dag_id} ...", file=console, flush=True)
        before = usage_mark(emulator, emulator_state)
        started = time.monotonic()
        dag_run = dag_test(selected[dag_id], logical_date=logical_date)
        failed = sorted(ti.task_id for ti in dag_run.get_task_instances() if ti.state == "failed")
        result = measure(dag_id, str(dag_run.state), time.monotonic() - started, emulator,
                         emulator_state, before, failed)
        detail = f" (failed: {', '.join(failed)})" if failed else ""
        print(f"local run: {dag_id} -> {result.state} in {result.seconds} s{detail}",
              file=console, flush=True)
        results.append(result)
    return results


def default_logical_date() -> datetime:
    """Yesterday at midnight UTC: the run a daily schedule would start today."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1)
