"""The jobs the model-level DAG renders for a 2,000-model project are accepted by the emulator,
which refuses what Databricks refuses (more than 1,000 tasks in a job): jobs/create of every
rendered payload, as the workflow groups' launch tasks send it.

The emulator runs as its PEX (another resolve), built into the sandbox by Pants or taken from
dist/ (`./pants package libs/local_databricks:emulator`).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import render, synthetic_manifest
from local_stack.emulator_process import EmulatorProcess

EMULATOR_PEX = "libs.local_databricks/emulator.pex"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    built = (Path(EMULATOR_PEX), REPO / "dist" / EMULATOR_PEX)
    pex = next((p for p in built if p.is_file()), None)
    if pex is None:
        pytest.fail(f"{EMULATOR_PEX} is not built: ./pants package libs/local_databricks:emulator")
    state = tmp_path_factory.mktemp("emulator")
    with EmulatorProcess(pex.resolve(), state / "state", state / "emulator.log") as endpoint:
        yield endpoint


def create(emulator, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{emulator.url}/api/2.2/jobs/create",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {emulator.token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_the_emulator_accepts_every_rendered_job(emulator, tmp_path):
    _, jobs = render(synthetic_manifest(tmp_path, 2000))
    assert len(jobs) > 1
    for job in jobs:
        status, body = create(emulator, job.payload)
        assert status == 200, f"{job.group_id}: {body}"


def test_the_emulator_refuses_those_jobs_merged_into_one(emulator, tmp_path):
    """What the split avoids: the same tasks as one job are refused, so the test above would
    fail if the renderer emitted an oversized job."""
    _, jobs = render(synthetic_manifest(tmp_path, 2000))
    merged = dict(jobs[0].payload)
    merged["tasks"] = [task for job in jobs for task in job.payload["tasks"]]
    for task in merged["tasks"]:
        task["job_cluster_key"] = "main"
        task["depends_on"] = []  # keep only what is under test: the task count
    status, body = create(emulator, merged)
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert f"The job has {len(merged['tasks'])} tasks" in body["message"]
