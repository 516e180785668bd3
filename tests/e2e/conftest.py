"""One local stack per test session: the emulator PEX, a migrated SQLite Airflow, published
notebooks and the dbt-runner wheel, all through infra/local_stack (the launcher run-all uses).

Under Pants the emulator PEX and the wheel are built into the sandbox (runtime package
dependencies); run by hand, they are taken from dist/ (`./pants package
libs/local_databricks:emulator dbt/runner:wheel`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from local_stack.airflow_home import airflow_environment, databricks_connection, migrate_database
from local_stack.emulator_process import EmulatorEndpoint, EmulatorProcess
from local_stack.publish import publish

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "airflow" / "dags"
E2E_DAGS = Path(__file__).resolve().parent / "dags"  # one-operator DAGs of the tests
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.py"))
EMULATOR_PEX = "libs.local_databricks/emulator.pex"
DBT_RUNNER_NAME_FILE = "dbt-runner/wheel-name.txt"  # the versioned wheel's name, from the build
SCRATCH_DIR = "/Workspace/e2e"  # notebooks the tests write (NOTEBOOK_DIR of the e2e DAGs)
LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"

_airflow_home: Path | None = None


def pytest_configure(config):
    """Airflow reads its configuration when first imported: point it at a throw-away home
    before the test modules import it."""
    global _airflow_home
    _airflow_home = Path(tempfile.mkdtemp(prefix="e2e-airflow-"))
    os.environ.update(airflow_environment(_airflow_home, DAGS_FOLDER))
    # Two bundles: the project's DAGs and the tests' own (dag.test() runs only DAGs of a bundle).
    bundles = [{"name": name, "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(path)}}
               for name, path in (("dags-folder", DAGS_FOLDER), ("e2e", E2E_DAGS))]
    os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(bundles)
    # The dbt DAGs name the wheel the build made (the MWAA bundle ships its name beside them).
    os.environ["DATAPLATFORM_DBT_RUNNER_WHEEL"] = Path(dbt_runner_wheel()).name


def pytest_unconfigure(config):
    if _airflow_home is not None:
        shutil.rmtree(_airflow_home, ignore_errors=True)


def artifact(relative: str) -> Path:
    """A packaged artifact: at its dist-relative path in the Pants sandbox, else in dist/."""
    for candidate in (Path(relative), REPO / "dist" / relative):
        if candidate.is_file():
            return candidate.resolve()
    raise FileNotFoundError(
        f"{relative} is not built: run `./pants package libs/local_databricks:emulator "
        "dbt/runner:wheel` (or run these tests with `./pants test tests/e2e::`)"
    )


def dbt_runner_wheel() -> str:
    """The built dbt-runner wheel, dist-relative (its name carries its content hash)."""
    return f"dbt-runner/{artifact(DBT_RUNNER_NAME_FILE).read_text().strip()}"


@dataclass(frozen=True)
class Stack:
    emulator: EmulatorEndpoint
    state_dir: Path

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = ""):
        """(status, JSON body) of a raw request to the emulator; token "" means the emulator's
        own token, None sends no Authorization header."""
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token or self.emulator.token}"
        request = urllib.request.Request(
            f"{self.emulator.url}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers=headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def wait_for_log(self, run_id: int, text: str, timeout: float = 60) -> None:
        """Until the run's page (which shows its task logs) contains `text`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            page_request = urllib.request.Request(
                f"{self.emulator.url}/run/{run_id}",
                headers={"Authorization": f"Bearer {self.emulator.token}"},
            )
            with urllib.request.urlopen(page_request, timeout=10) as page:
                if text in page.read().decode():
                    return
            time.sleep(0.5)
        raise AssertionError(f"run {run_id} did not log {text!r} within {timeout} s")

    def inject_fault(self, **fault) -> None:
        status, body = self.call("POST", "/emulator/faults", fault)
        assert status == 200, body

    def pending_faults(self) -> list[dict]:
        return self.call("GET", "/emulator/faults")[1]["faults"]


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[Stack]:
    state_dir = tmp_path_factory.mktemp("local-stack")
    process = EmulatorProcess(artifact(EMULATOR_PEX), state_dir / "databricks",
                              state_dir / "logs" / "emulator.log")
    with process as emulator:
        os.environ.update(databricks_connection(emulator))
        publish(emulator, NOTEBOOKS, [artifact(dbt_runner_wheel())])
        migrate_database()
        yield Stack(emulator, state_dir)


@pytest.fixture(scope="session")
def workspace(stack):
    """A databricks-sdk client on the emulator, as a user's script would have."""
    from databricks.sdk import WorkspaceClient

    return WorkspaceClient(host=stack.emulator.url, token=stack.emulator.token, auth_type="pat")


@pytest.fixture(scope="session")
def notebook(workspace) -> Callable[[str, str], str]:
    """`notebook(name, python_source)` uploads a SOURCE notebook; returns its workspace path."""
    from databricks.sdk.service.workspace import ImportFormat, Language

    workspace.workspace.mkdirs(SCRATCH_DIR)

    def upload(name: str, source: str) -> str:
        path = f"{SCRATCH_DIR}/{name}"
        workspace.workspace.upload(
            path, f"# Databricks notebook source\n{source}".encode(),
            format=ImportFormat.SOURCE, language=Language.PYTHON, overwrite=True,
        )
        return path

    return upload


@dataclass(frozen=True)
class TaskOutcome:
    state: str
    output: str  # what the task printed and logged, Airflow's own log lines included


@pytest.fixture(scope="session")
def e2e_dags(stack) -> dict:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=E2E_DAGS, bundle_path=E2E_DAGS)
    assert not bag.import_errors, bag.import_errors
    return bag.dags


@pytest.fixture
def run_task(e2e_dags, capfd) -> Callable[[str], TaskOutcome]:
    """`run_task(dag_id)`: one of the e2e DAGs (one task each) run with dag.test(), i.e. the
    real task runner with deferral and the trigger; the task's state and what it logged."""

    def run(dag_id: str) -> TaskOutcome:
        capfd.readouterr()
        dag_run = e2e_dags[dag_id].test(logical_date=datetime(2025, 6, 1, tzinfo=UTC))
        (ti,) = dag_run.get_task_instances()
        return TaskOutcome(str(ti.state), "".join(capfd.readouterr()))

    return run


def wait_for_run(workspace, run_id: int, timeout: float = 120):
    """The run once TERMINATED (databricks-sdk's Run)."""
    from databricks.sdk.service.jobs import RunLifeCycleState

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = workspace.jobs.get_run(run_id)
        if run.state.life_cycle_state == RunLifeCycleState.TERMINATED:
            return run
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s")
