"""One headless local stack for every test here (api-server, scheduler, dag-processor, triggerer
and the emulator), driven only through Airflow's REST API, as a user does on MWAA; what the runs
did is read from the emulator (Jobs API, usage ledger, SQL warehouse)."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import pytest
from local_stack.airflow_api import AirflowApi
from local_stack.stack import RunningStack
from support.airflow_stack import headless_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[RunningStack]:
    with headless_stack(tmp_path_factory.mktemp("local-stack")) as running:
        yield running


@pytest.fixture(scope="session")
def api(stack) -> AirflowApi:
    return stack.api


def run_all(api: AirflowApi, triggers: Sequence[tuple[str, datetime | None]]) -> list[dict]:
    """Trigger every (dag_id, logical_date) at once (each DAG runs one at a time), wait until
    all have finished; the finished runs in trigger order."""
    started = [(dag_id, api.trigger(dag_id, date)["dag_run_id"]) for dag_id, date in triggers]
    return [api.wait_for_run(dag_id, run_id, timeout=600) for dag_id, run_id in started]


def failed_tasks(api: AirflowApi, run: dict) -> list[str]:
    """The run's tasks that did not succeed, each with the error its last try ended with (a
    Databricks task's names its Databricks run's error): a failure explains itself."""
    return [f"{ti['task_id']} ({ti['state']}, try {ti['try_number']}): "
            f"{api.task_error(run['dag_id'], run['dag_run_id'], ti['task_id'], ti['try_number'])}"
            for ti in api.task_instances(run["dag_id"], run["dag_run_id"])
            if ti["state"] not in ("success", "skipped")]


def databricks_run_ids(api: AirflowApi, run: dict) -> list[int]:
    """The Databricks runs a DAG run started, from its tasks' XComs: a submitted run's `run_id`,
    a workflow group's job run (what its `launch` task returned)."""
    ids = []
    for ti in api.task_instances(run["dag_id"], run["dag_run_id"]):
        if ti["task_id"].endswith(".launch"):
            ids.append(api.xcom(run["dag_id"], run["dag_run_id"], ti["task_id"])["run_id"])
        elif ti["operator"] == "DurableSubmitRunOperator":
            ids.append(api.xcom(run["dag_id"], run["dag_run_id"], ti["task_id"], "run_id"))
    return [int(i) for i in ids]


def run_date(run: dict) -> str:
    """The day a run processes: its logical date, or when it has none, its run_after."""
    return (run["logical_date"] or run["run_after"])[:10]


class Emulator:
    """The emulator as the tests read it: Jobs API, usage ledger, SQL warehouse."""

    def __init__(self, stack: RunningStack) -> None:
        self.endpoint = stack.emulator

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            self.endpoint.url + path, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.endpoint.token}",
                     "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.load(response)

    def run(self, run_id: int) -> dict:
        return self.endpoint.get("/api/2.2/jobs/runs/get", run_id=run_id)

    def usage(self, run_id: int) -> dict:
        return self.endpoint.get("/emulator/usage", run_id=run_id)

    @contextmanager
    def fault(self, **fault) -> Iterator[None]:
        """The fault (POST /emulator/faults) for the Databricks runs the block starts. The block
        must use it up, and it never outlives the block: a fault left over would fail the next
        test's runs instead."""
        self.call("POST", "/emulator/faults", fault)
        try:
            yield
            left = self.call("GET", "/emulator/faults")["faults"]
        finally:
            self.call("DELETE", "/emulator/faults")
        assert not left, f"the block started fewer Databricks runs than the fault expected: {left}"

    def sql(self, statement: str) -> tuple[list[str], list[list]]:
        """Column names and rows (as strings) of a statement on the SQL warehouse."""
        (warehouse,) = self.call("GET", "/api/2.0/sql/warehouses")["warehouses"]
        answer = self.call("POST", "/api/2.0/sql/statements", {
            "warehouse_id": warehouse["id"], "statement": statement, "wait_timeout": "50s"})
        assert answer["status"]["state"] == "SUCCEEDED", answer["status"]
        columns = [c["name"] for c in answer["manifest"]["schema"]["columns"]]
        return columns, answer.get("result", {}).get("data_array") or []

    def fingerprint(self, table: str, date_column: str) -> dict[str, tuple[int, str]]:
        """Per date: the row count and a SHA-256 of the sorted rows (every column)."""
        columns, rows = self.sql(f"SELECT * FROM {table}")
        position = columns.index(date_column)
        by_date: dict[str, list[str]] = {}
        for row in rows:
            by_date.setdefault(row[position], []).append(json.dumps(row))
        return {date: (len(rows), hashlib.sha256("\n".join(sorted(rows)).encode()).hexdigest())
                for date, rows in by_date.items()}


@pytest.fixture(scope="session")
def emulator(stack) -> Emulator:
    return Emulator(stack)
