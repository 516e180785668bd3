"""The Clusters API: clusters that jobs name by existing_cluster_id, kept across restarts."""

from __future__ import annotations

import re
import time

from conftest import upload_notebook
from emulator.contract_client import call, ok, provider_payloads, wait_terminated
from local_databricks.clusters_api import ClusterStore

CLUSTER = provider_payloads()["cluster"]


def _wait_state(emulator, cluster_id: str, state: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        cluster = ok(call(emulator, "GET", "clusters/get", {"cluster_id": cluster_id}))
        if cluster["state"] == state:
            return cluster
        time.sleep(0.1)
    raise AssertionError(f"cluster {cluster_id} did not reach {state}")


def test_cluster_lifecycle_and_a_job_on_it(emulator, client):
    spec = CLUSTER | {"cluster_name": "contract-shared"}
    cluster_id = ok(call(emulator, "POST", "clusters/create", spec))["cluster_id"]
    assert re.fullmatch(r"\d{4}-\d{6}-[a-z0-9]{8}", cluster_id)
    assert ok(call(emulator, "GET", "clusters/get", {"cluster_id": cluster_id}))["state"] in (
        "PENDING",
        "RUNNING",
    )
    running = _wait_state(emulator, cluster_id, "RUNNING")
    assert running["spark_version"] == "16.4.x-scala2.12" and running["spark_conf"] == {}
    assert running["cluster_source"] == "API"
    listed = ok(call(emulator, "GET", "clusters/list"))["clusters"]
    assert cluster_id in [c["cluster_id"] for c in listed]

    upload_notebook(client, "/Shared/contract/on_cluster", "dbutils.notebook.exit('ran')")
    task = {
        "task_key": "on_cluster",
        "existing_cluster_id": cluster_id,
        "notebook_task": {"notebook_path": "/Shared/contract/on_cluster"},
    }
    run_id = ok(call(emulator, "POST", "jobs/runs/submit", {"run_name": "c", "tasks": [task]}))[
        "run_id"
    ]
    run = wait_terminated(emulator, run_id)
    assert run["state"]["result_state"] == "SUCCESS", run["state"]["state_message"]

    ok(call(emulator, "POST", "clusters/delete", {"cluster_id": cluster_id}))
    assert _wait_state(emulator, cluster_id, "TERMINATED")["state_message"]
    ok(call(emulator, "POST", "clusters/start", {"cluster_id": cluster_id}))
    _wait_state(emulator, cluster_id, "RUNNING")
    again = call(emulator, "POST", "clusters/start", {"cluster_id": cluster_id})
    assert (again.status_code, again.json()["error_code"]) == (400, "INVALID_STATE")


def test_unknown_cluster_is_404(emulator):
    response = call(emulator, "GET", "clusters/get", {"cluster_id": "0101-000000-nothere1"})
    assert (response.status_code, response.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_cluster_store_survives_a_restart_and_exposes_the_spec(tmp_path):
    path = tmp_path / "clusters.json"
    cluster_id = ClusterStore(path).create({"spark_version": "15.4.x-scala2.12", "spark_conf": {}})
    reopened = ClusterStore(path)
    assert reopened.spec(cluster_id) == {"spark_version": "15.4.x-scala2.12", "spark_conf": {}}
    assert not list(tmp_path.glob(".*.partial"))
