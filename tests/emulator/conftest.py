"""Starts the real emulator as a subprocess (own process group, port 0) for the tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import local_databricks
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.service import compute, jobs

# The server runs as `python -m local_databricks` from the same import root as this test run.
LIB_ROOT = Path(local_databricks.__file__).resolve().parents[1]


def start_server(state_dir: Path, *args: str) -> tuple[subprocess.Popen, dict[str, Any]]:
    """`serve` on a free port in its own process group, ending with this test process; its
    output goes to state_dir/server.log. Returns the process and server.json's info."""
    server_file = state_dir / "server.json"
    server_file.unlink(missing_ok=True)
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(LIB_ROOT), os.environ.get("PYTHONPATH")]))
    }
    with open(state_dir / "server.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "local_databricks", "serve", "--port", "0",
             "--state-dir", str(state_dir), "--exit-with-parent", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    deadline = time.monotonic() + 30
    while not server_file.exists():
        assert proc.poll() is None, (state_dir / "server.log").read_text()
        assert time.monotonic() < deadline, "emulator did not start in 30 s"
        time.sleep(0.1)
    time.sleep(0.1)
    return proc, json.loads(server_file.read_text()) | {"state_dir": state_dir}


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@contextlib.contextmanager
def serve_emulator(state_dir: Path, *serve_args: str) -> Iterator[dict[str, Any]]:
    """A real emulator server with extra `serve` flags, stopped on exit; yields its info dict."""
    proc, info = start_server(state_dir, *serve_args)
    try:
        yield info
    finally:
        stop_server(proc)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    """The server's info dict: url, token, port, state_dir."""
    proc, info = start_server(tmp_path_factory.mktemp("emulator-state"))
    yield info
    stop_server(proc)


@pytest.fixture(scope="session")
def client(emulator) -> WorkspaceClient:
    return WorkspaceClient(host=emulator["url"], token=emulator["token"])


def upload_notebook(client: WorkspaceClient, path: str, source: str) -> None:
    from databricks.sdk.service.workspace import ImportFormat, Language

    client.workspace.upload(
        path,
        ("# Databricks notebook source\n" + source).encode(),
        format=ImportFormat.SOURCE,
        language=Language.PYTHON,
        overwrite=True,
    )


TERMINAL = {
    jobs.RunLifeCycleState.TERMINATED,
    jobs.RunLifeCycleState.INTERNAL_ERROR,  # the cluster could not run it (e.g. a library)
    jobs.RunLifeCycleState.SKIPPED,
}


def wait_done(client: WorkspaceClient, run_id: int, timeout: float = 120) -> jobs.Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.jobs.get_run(run_id)
        if run.state.life_cycle_state in TERMINAL:
            return run
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s")


def notebook_task(key: str, path: str, **params: str) -> jobs.SubmitTask:
    return jobs.SubmitTask(
        task_key=key,
        notebook_task=jobs.NotebookTask(notebook_path=path, base_parameters=params or None),
    )


def new_cluster(spark_version: str, **spark_env_vars: str) -> compute.ClusterSpec:
    return compute.ClusterSpec(
        spark_version=spark_version,
        node_type_id="i3.xlarge",
        num_workers=1,
        spark_env_vars=spark_env_vars or None,
    )


def ensure_volume(client: WorkspaceClient, catalog_name: str, schema: str, volume: str) -> str:
    """Create a managed volume and its catalog/schema unless they exist; its /Volumes path.

    As in a Unity Catalog workspace, files under /Volumes need all three to exist first."""
    from databricks.sdk.errors import ResourceAlreadyExists, ResourceConflict
    from databricks.sdk.service.catalog import VolumeType

    for create in (
        lambda: client.catalogs.create(catalog_name),
        lambda: client.schemas.create(schema, catalog_name),
        lambda: client.volumes.create(catalog_name, schema, volume, VolumeType.MANAGED),
    ):
        try:
            create()
        except (ResourceAlreadyExists, ResourceConflict):
            pass
    return f"/Volumes/{catalog_name}/{schema}/{volume}"


def run_notebook_task(client: WorkspaceClient, name: str, source: str, **task: Any) -> jobs.Run:
    """Upload `source` as /Users/dev/<name>, run it as the one task of a submitted run with the
    given task fields (new_cluster=, existing_cluster_id=, libraries=...), and wait for the end."""
    path = f"/Users/dev/{name}"
    upload_notebook(client, path, source)
    run_id = client.jobs.submit(
        run_name=name,
        tasks=[jobs.SubmitTask(task_key=name, notebook_task=jobs.NotebookTask(path), **task)],
    ).response.run_id
    return wait_done(client, run_id, timeout=280)
