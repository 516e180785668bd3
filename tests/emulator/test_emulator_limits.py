"""The service's limits, one test each, with its error texts (local_databricks/limits.py).

Task counts are fixed, as on Databricks; the limits a test cannot reach at their real size
(150 contexts per cluster, 1,000 running task runs, 10,000 creations an hour) are lowered with
`serve` flags on a server of the test's own.
"""

from __future__ import annotations

import time

import pytest
import requests
from conftest import serve_emulator, upload_notebook, wait_done
from databricks.sdk import WorkspaceClient
from databricks.sdk.service import jobs
from emulator.contract_client import call, wait_for_tasks

NOTEBOOK = "/Shared/limits/noop"


def tasks(count: int, **fields) -> list[dict]:
    return [
        {"task_key": f"t{i}", "notebook_task": {"notebook_path": NOTEBOOK}, **fields}
        for i in range(count)
    ]


def refusal(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body.get("error_code"), body.get("message")


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """A server whose clusters hold 2 execution contexts and whose workspace runs 2 task runs."""
    state_dir = tmp_path_factory.mktemp("limited-emulator")
    flags = ("--max-execution-contexts", "2", "--max-concurrent-task-runs", "2")
    with serve_emulator(state_dir, *flags) as server:
        server["client"] = WorkspaceClient(host=server["url"], token=server["token"])
        upload_notebook(server["client"], NOTEBOOK, "pass\n")
        yield server


def start_hanging_job(server, task_count: int) -> tuple[int, int]:
    """run-now of a job whose `task_count` tasks share one job cluster and hang until cancelled;
    (job_id, run_id)."""
    cluster = {"spark_version": "16.4.x-scala2.12", "node_type_id": "local", "num_workers": 0}
    created = call(
        server,
        "POST",
        "/api/2.2/jobs/create",
        {
            "name": f"hanging-{task_count}",
            "job_clusters": [{"job_cluster_key": "main", "new_cluster": cluster}],
            "tasks": tasks(task_count, job_cluster_key="main"),
        },
    )
    assert created.status_code == 200, created.text
    assert call(server, "POST", "/emulator/faults", {"run": "hang"}).status_code == 200
    job_id = created.json()["job_id"]
    started = call(server, "POST", "/api/2.2/jobs/run-now", {"job_id": job_id})
    assert started.status_code == 200, started.text
    return job_id, started.json()["run_id"]


def stop(server, run_id: int) -> None:
    assert call(server, "POST", "/api/2.2/jobs/runs/cancel", {"run_id": run_id}).status_code == 200
    wait_done(server["client"], run_id)


def test_a_job_holds_at_most_1000_tasks(emulator):
    too_many = call(emulator, "POST", "/api/2.2/jobs/create", {"name": "big", "tasks": tasks(1001)})
    assert refusal(too_many) == (
        400,
        "INVALID_PARAMETER_VALUE",
        "The job has 1001 tasks, more than the 1000 a job can contain. Split it into several jobs.",
    )
    submitted = call(emulator, "POST", "/api/2.2/jobs/runs/submit", {"tasks": tasks(1001)})
    assert refusal(submitted)[:2] == (400, "INVALID_PARAMETER_VALUE")

    at_limit = call(emulator, "POST", "/api/2.2/jobs/create", {"name": "big", "tasks": tasks(1000)})
    assert at_limit.status_code == 200, at_limit.text


def test_more_than_100_tasks_only_through_api_2_2(emulator, client):
    for version in ("2.0", "2.1"):
        refused = call(
            emulator, "POST", f"/api/{version}/jobs/create", {"name": "wide", "tasks": tasks(101)}
        )
        assert refusal(refused) == (
            400,
            "INVALID_PARAMETER_VALUE",
            "Resources with more than 100 tasks can only be handled by API 2.2 and above. "
            "Your resource has 101 tasks",
        )
    hundred = call(emulator, "POST", "/api/2.1/jobs/create", {"name": "wide", "tasks": tasks(100)})
    assert hundred.status_code == 200, hundred.text

    # databricks-sdk (like the Airflow provider) speaks 2.2: the same job is accepted there...
    job_id = client.jobs.create(
        name="wide",
        tasks=[
            jobs.Task(task_key=t["task_key"], notebook_task=jobs.NotebookTask(NOTEBOOK))
            for t in tasks(101)
        ],
    ).job_id
    assert len(client.jobs.get(job_id).settings.tasks) == 101
    # ... and a 2.1 client cannot read it back.
    read = call(emulator, "GET", "/api/2.1/jobs/get", {"job_id": job_id})
    assert refusal(read)[:2] == (400, "INVALID_PARAMETER_VALUE")
    assert "Your resource has 101 tasks" in read.json()["message"]


def pages(server, path: str, body: dict) -> list[dict]:
    """Every page of a 2.2 jobs/get or runs/get, following next_page_token."""
    found = [call(server, "GET", path, body).json()]
    while "next_page_token" in found[-1]:
        token = found[-1]["next_page_token"]
        found.append(call(server, "GET", path, body | {"page_token": token}).json())
    return found


def test_api_2_2_pages_the_tasks_of_jobs_and_runs_by_100(emulator, client):
    # t0 fails (no such notebook); the 249 tasks after it end UPSTREAM_FAILED without running.
    cluster = {"spark_version": "16.4.x-scala2.12", "node_type_id": "local", "num_workers": 0}
    first, *rest = tasks(250, job_cluster_key="main")
    first["notebook_task"]["notebook_path"] = "/Shared/limits/missing"
    rest = [task | {"depends_on": [{"task_key": "t0"}]} for task in rest]
    created = call(emulator, "POST", "/api/2.2/jobs/create", {
        "name": "paged", "job_clusters": [{"job_cluster_key": "main", "new_cluster": cluster}],
        "tasks": [first, *rest],
    })  # fmt: skip
    job_id = created.json()["job_id"]

    job_pages = pages(emulator, "/api/2.2/jobs/get", {"job_id": job_id})
    assert [len(page["settings"]["tasks"]) for page in job_pages] == [100, 100, 50]
    assert [len(page["settings"]["job_clusters"]) for page in job_pages] == [1, 0, 0]
    keys = [task["task_key"] for page in job_pages for task in page["settings"]["tasks"]]
    assert sorted(keys) == sorted(f"t{i}" for i in range(250))
    assert len(client.jobs.get(job_id).settings.tasks) == 250  # the SDK follows the pages

    run_id = call(emulator, "POST", "/api/2.2/jobs/run-now", {"job_id": job_id}).json()["run_id"]
    run = wait_done(client, run_id)
    assert len(run.tasks) == 250
    run_pages = pages(emulator, "/api/2.2/jobs/runs/get", {"run_id": run_id})
    assert [len(page["tasks"]) for page in run_pages] == [100, 100, 50]
    assert {task["task_key"] for page in run_pages for task in page["tasks"]} == set(keys)
    bad_token = call(emulator, "GET", "/api/2.2/jobs/runs/get",
                     {"run_id": run_id, "page_token": "not-a-token"})
    assert refusal(bad_token)[:2] == (400, "INVALID_PARAMETER_VALUE")


def wait_for_run(server, run_id: int, states: tuple[str, ...], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = call(server, "GET", "/api/2.2/jobs/runs/get", {"run_id": run_id}).json()
        if run["state"]["life_cycle_state"] in states:
            return run
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} never reached {states}: {run['state']}")


def test_a_job_past_max_concurrent_runs_queues_or_skips(limited):
    job_id, first = start_hanging_job(limited, 1)  # max_concurrent_runs defaults to 1
    wait_for_run(limited, first, ("RUNNING",))
    second = call(limited, "POST", "/api/2.2/jobs/run-now", {"job_id": job_id}).json()["run_id"]
    # QUEUED in run-now's answer already: the provider's launch reads it at once.
    queued = call(limited, "GET", "/api/2.2/jobs/runs/get", {"run_id": second}).json()
    assert queued["state"]["life_cycle_state"] == "QUEUED", queued["state"]
    assert "maximum concurrent runs" in queued["state"]["state_message"]
    stop(limited, first)
    done = wait_done(limited["client"], second)  # the queued run starts once the first ended
    assert done.state.result_state == jobs.RunResultState.SUCCESS, done.state.state_message

    unqueued = call(limited, "POST", "/api/2.2/jobs/reset", {"job_id": job_id, "new_settings": {
        "name": "no-queue", "queue": {"enabled": False}, "max_concurrent_runs": 1,
        "tasks": tasks(1),
    }})  # fmt: skip
    assert unqueued.status_code == 200, unqueued.text
    assert call(limited, "POST", "/emulator/faults", {"run": "hang"}).status_code == 200
    first = call(limited, "POST", "/api/2.2/jobs/run-now", {"job_id": job_id}).json()["run_id"]
    wait_for_run(limited, first, ("RUNNING",))
    third = call(limited, "POST", "/api/2.2/jobs/run-now", {"job_id": job_id}).json()["run_id"]
    skipped = wait_for_run(limited, third, ("SKIPPED",))
    assert skipped["state"]["state_message"] == (
        "Skipping this run because the limit of 1 maximum concurrent runs has been reached."
    )
    stop(limited, first)


def test_task_runs_beyond_a_clusters_execution_contexts_fail(limited):
    _, run_id = start_hanging_job(limited, task_count=3)
    try:
        states = wait_for_tasks(
            limited,
            run_id,
            lambda ts: sum(t["state"].get("result_state") == "FAILED" for t in ts.values()) == 1,
        )
        (failed,) = (t for t in states.values() if t["state"].get("result_state") == "FAILED")
        message = "Too many execution contexts are open right now. (Limit set to 2)"
        assert failed["state"]["state_message"] == message
        output = call(limited, "GET", "/api/2.2/jobs/runs/get-output", {"run_id": failed["run_id"]})
        assert output.json()["error"] == message
        # The two tasks that got a context are still running on the cluster.
        running = [t for t in states.values() if t["state"]["life_cycle_state"] == "RUNNING"]
        assert len(running) == 2
    finally:
        stop(limited, run_id)


def test_runs_past_the_concurrent_task_run_limit_are_answered_429(limited):
    job_id, run_id = start_hanging_job(limited, task_count=2)
    try:
        running = wait_for_tasks(
            limited,
            run_id,
            lambda ts: all(t["state"]["life_cycle_state"] == "RUNNING" for t in ts.values()),
        )
        assert len(running) == 2
        submit = {"run_name": "one-more", "tasks": tasks(1)}
        for path, body in (("jobs/runs/submit", submit), ("jobs/run-now", {"job_id": job_id})):
            status, code, message = refusal(call(limited, "POST", f"/api/2.2/{path}", body))
            assert (status, code) == (429, "REQUEST_LIMIT_EXCEEDED")
            assert "limit of concurrent task runs is 2" in message
    finally:
        stop(limited, run_id)
    # Once those task runs have ended, a run starts again.
    assert call(limited, "POST", "/emulator/faults", {"run": "hang"}).status_code == 200
    accepted = call(limited, "POST", "/api/2.2/jobs/runs/submit", submit)
    assert accepted.status_code == 200, accepted.text
    stop(limited, accepted.json()["run_id"])


def test_job_creations_and_submits_are_rate_limited_per_hour(tmp_path):
    with serve_emulator(tmp_path, "--max-job-creations-per-hour", "3") as server:
        for _ in range(3):
            created = call(server, "POST", "/api/2.2/jobs/create", {"name": "j", "tasks": tasks(1)})
            assert created.status_code == 200, created.text
        message = (
            "There were already 3 jobs created in past 3600 seconds, exceeding rate limit: "
            "3 job creations per 3600 seconds."
        )
        fourth = call(server, "POST", "/api/2.2/jobs/create", {"name": "j", "tasks": tasks(1)})
        assert refusal(fourth) == (400, "INVALID_STATE", message)
        # One-time runs count as job creations: refused before anything starts.
        submitted = call(server, "POST", "/api/2.2/jobs/runs/submit", {"tasks": tasks(1)})
        assert refusal(submitted) == (400, "INVALID_STATE", message)
        listed = call(server, "GET", "/api/2.2/jobs/runs/list", {})
        assert listed.json().get("runs", []) == []
