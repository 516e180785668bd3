"""runs/list pages as Jobs API 2.2 pages (databricks-sdk follows next_page_token), and
cancel-all with only all_queued_runs cancels the workspace's queued runs, not running ones."""

from __future__ import annotations

import pytest
from conftest import new_cluster, upload_notebook, wait_done
from databricks.sdk.service import jobs
from emulator.contract_client import call, ok

NOTEBOOK = "/Users/dev/contract/run_lists"


@pytest.fixture(scope="module")
def queued_job(emulator, client):
    """A job of max one concurrent run with five runs: the first hangs, four wait QUEUED."""
    upload_notebook(client, NOTEBOOK, "pass\n")
    job = client.jobs.create(
        name="contract-run-lists", max_concurrent_runs=1, queue=jobs.QueueSettings(enabled=True),
        tasks=[jobs.Task(task_key="main", notebook_task=jobs.NotebookTask(notebook_path=NOTEBOOK),
                         new_cluster=new_cluster("16.4.x-scala2.12"))],
    )  # fmt: skip
    ok(call(emulator, "POST", "/emulator/faults", {"run": "hang"}))
    runs = [client.jobs.run_now(job.job_id).run_id for _ in range(5)]
    yield job.job_id, runs
    for run_id in runs:
        client.jobs.cancel_run(run_id)
        wait_done(client, run_id)


def test_runs_list_pages_with_tokens(emulator, client, queued_job):
    job_id, runs = queued_job
    assert [r.run_id for r in client.jobs.list_runs(job_id=job_id, limit=2)] == runs[::-1]

    first = ok(call(emulator, "GET", "jobs/runs/list", {"job_id": job_id, "limit": 2}))
    assert first["has_more"] and "prev_page_token" not in first
    second = ok(call(emulator, "GET", "jobs/runs/list",
                     {"job_id": job_id, "limit": 2, "page_token": first["next_page_token"]}))
    assert [r["run_id"] for r in first["runs"] + second["runs"]] == runs[:0:-1]
    assert "prev_page_token" in second

    at_most = ok(call(emulator, "GET", "jobs/runs/list", {"job_id": job_id, "limit": 0}))
    assert len(at_most["runs"]) == 5 and not at_most["has_more"]  # 0: the maximum, 25
    over = call(emulator, "GET", "jobs/runs/list", {"job_id": job_id, "limit": 26})
    assert (over.status_code, over.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")


def test_cancel_all_queued_runs_leaves_the_running_run(emulator, client, queued_job):
    _, (running, *queued) = queued_job
    ok(call(emulator, "POST", "jobs/runs/cancel-all", {"all_queued_runs": True}))
    for run_id in queued:
        assert wait_done(client, run_id).state.result_state == jobs.RunResultState.CANCELED
    assert client.jobs.get_run(running).state.life_cycle_state in (
        jobs.RunLifeCycleState.PENDING, jobs.RunLifeCycleState.RUNNING)
