"""What the provider's operators and users send is accepted; what the service refuses is refused
with the service's error_code. Payloads: payloads/provider_requests.json."""

from __future__ import annotations

import pytest
from conftest import upload_notebook
from emulator.contract_client import call, fail_next_run, ok, provider_payloads, wait_terminated

PAYLOADS = provider_payloads()
CLUSTER = PAYLOADS["cluster"]
NOOP = "/Shared/contract/noop"


@pytest.mark.parametrize("request_", PAYLOADS["requests"], ids=lambda r: r["name"])
def test_provider_request_is_accepted(emulator, request_):
    if request_["path"] == "jobs/runs/submit":
        fail_next_run(emulator)
    answer = ok(call(emulator, "POST", request_["path"], request_["body"]))
    assert answer.get("run_id") or answer.get("job_id")


def test_stored_job_keeps_empty_containers_and_drops_unknown_fields(emulator):
    pasted = next(r for r in PAYLOADS["requests"] if r["path"] == "jobs/create")["body"]
    job_id = ok(call(emulator, "POST", "jobs/create", pasted | {"name": "contract.stored"}))[
        "job_id"
    ]
    settings = ok(call(emulator, "GET", "jobs/get", {"job_id": str(job_id)}))["settings"]
    cluster = settings["job_clusters"][0]["new_cluster"]
    assert cluster["spark_conf"] == {} and cluster["init_scripts"] == []
    assert cluster["num_workers"] == 1 and cluster["enable_elastic_disk"] is True
    assert "cluster_source" not in cluster
    assert "created_time" not in settings and settings["tasks"][0]["depends_on"] == []


def test_unknown_enum_value_is_accepted_and_dropped(emulator):
    """As the service does (a typo'd performance_target is answered 200 and left out)."""
    task = {"task_key": "a", "notebook_task": {"notebook_path": NOOP}, "run_if": "SOMETIMES"}
    body = {"name": "contract.enum", "tasks": [task], "performance_target": "STANDART"}
    job_id = ok(call(emulator, "POST", "jobs/create", body))["job_id"]
    settings = ok(call(emulator, "GET", "jobs/get", {"job_id": job_id}))["settings"]
    assert "run_if" not in settings["tasks"][0] and "performance_target" not in settings


def _submit_task(**fields):
    return {"run_name": "refused", "tasks": [{"task_key": "t", **fields}]}


NOTEBOOK = {"notebook_task": {"notebook_path": NOOP}}
REFUSALS = {
    "malformed JSON": ("jobs/create", b'{"name": "x",', "MALFORMED_REQUEST", "Invalid JSON"),
    "body not an object": ("jobs/create", b"[1, 2]", "MALFORMED_REQUEST", "expected a map"),
    "wrong type": (
        "jobs/runs/submit",
        {"run_name": "x", "timeout_seconds": "soon", **NOTEBOOK},
        "MALFORMED_REQUEST",
        "timeout_seconds",
    ),
    "object where a string is expected": (
        "jobs/create",
        {"name": {"first": "x"}},
        "MALFORMED_REQUEST",
        "'name'",
    ),
    "missing required field": (
        "jobs/reset",
        {"job_id": 1},
        "INVALID_PARAMETER_VALUE",
        "Missing required field: new_settings",
    ),
    "missing task_key": (
        "jobs/create",
        {"name": "x", "tasks": [NOTEBOOK]},
        "INVALID_PARAMETER_VALUE",
        "Missing required field: tasks[0].task_key",
    ),
    "unknown spark_version in new_cluster": (
        "jobs/runs/submit",
        _submit_task(new_cluster=CLUSTER | {"spark_version": "9.9.x-scala2.12"}, **NOTEBOOK),
        "INVALID_PARAMETER_VALUE",
        "Invalid spark version '9.9.x-scala2.12' in 'tasks[0].new_cluster.spark_version'",
    ),
    "unknown spark_version in job_clusters": (
        "jobs/create",
        {
            "name": "x",
            "job_clusters": [
                {"job_cluster_key": "m", "new_cluster": {"spark_version": "4.2.x-scala2.11"}}
            ],
        },
        "INVALID_PARAMETER_VALUE",
        "job_clusters[0].new_cluster.spark_version",
    ),
    "unknown spark_version in clusters/create": (
        "clusters/create",
        {"cluster_name": "x", "spark_version": "18.x-photon-scala2.13"},
        "INVALID_PARAMETER_VALUE",
        "Invalid spark version",
    ),
    "spark_jar_task": (
        "jobs/create",
        {
            "name": "x",
            "tasks": [{"task_key": "jar", "spark_jar_task": {"main_class_name": "com.x.Main"}}],
        },
        "INVALID_PARAMETER_VALUE",
        "spark_jar_task needs a JVM",
    ),
    "spark_submit_task": (
        "jobs/runs/submit",
        _submit_task(spark_submit_task={"parameters": ["--class", "x"]}),
        "INVALID_PARAMETER_VALUE",
        "spark_submit_task needs a JVM",
    ),
    "task type the local engine cannot run": (
        "jobs/runs/submit",
        _submit_task(pipeline_task={"pipeline_id": "p"}),
        "INVALID_PARAMETER_VALUE",
        "pipeline_task cannot run on the local engine",
    ),
    "unknown existing_cluster_id": (
        "jobs/runs/submit",
        _submit_task(existing_cluster_id="0101-000000-nothere1", **NOTEBOOK),
        "INVALID_PARAMETER_VALUE",
        "existing_cluster_id '0101-000000-nothere1' does not exist",
    ),
    "undefined job_cluster_key": (
        "jobs/create",
        {"name": "x", "tasks": [{"task_key": "a", "job_cluster_key": "nope", **NOTEBOOK}]},
        "INVALID_PARAMETER_VALUE",
        "job_cluster_key 'nope' is not defined",
    ),
    "depends_on an unknown task": (
        "jobs/create",
        {"name": "x", "tasks": [{"task_key": "a", "depends_on": [{"task_key": "b"}], **NOTEBOOK}]},
        "INVALID_PARAMETER_VALUE",
        "depends on unknown task 'b'",
    ),
    "a task depending on itself": (
        "jobs/create",
        {"name": "x", "tasks": [{"task_key": "a", "depends_on": [{"task_key": "a"}], **NOTEBOOK}]},
        "INVALID_PARAMETER_VALUE",
        "Invalid dependency graph, task 'a' can not reference itself.",
    ),
    "tasks depending on each other": (
        "jobs/create",
        {"name": "x", "tasks": [
            {"task_key": "a", "depends_on": [{"task_key": "c"}], **NOTEBOOK},
            {"task_key": "b", "depends_on": [{"task_key": "a"}], **NOTEBOOK},
            {"task_key": "c", "depends_on": [{"task_key": "b"}], **NOTEBOOK}]},
        "INVALID_PARAMETER_VALUE",
        "Invalid dependency graph, the tasks a -> b -> c -> a depend on each other in a cycle.",
    ),
    "a task key with a dot": (
        "jobs/runs/submit",
        {"run_name": "x", "tasks": [{"task_key": "grp.load", **NOTEBOOK}]},
        "INVALID_PARAMETER_VALUE",
        "Task key 'grp.load' contains an invalid character. Only alphanumeric, - and _ "
        "characters are permitted.",
    ),
    "idempotency_token over 64 characters": (
        "jobs/runs/submit",
        _submit_task(**NOTEBOOK) | {"idempotency_token": "t" * 65},
        "INVALID_PARAMETER_VALUE",
        "idempotency_token must have at most 64 characters; it has 65",
    ),
    "reset of an unknown job": (
        "jobs/reset",
        {"job_id": 987654, "new_settings": {"name": "x"}},
        "RESOURCE_DOES_NOT_EXIST",
        "Job 987654 does not exist",
    ),
}


@pytest.mark.parametrize("case", REFUSALS, ids=str)
def test_refused_like_the_service(emulator, case):
    path, body, error_code, message = REFUSALS[case]
    raw = body if isinstance(body, bytes) else None
    response = call(emulator, "POST", path, None if raw else body, data=raw)
    status = 404 if error_code == "RESOURCE_DOES_NOT_EXIST" else 400
    assert (response.status_code, response.json()["error_code"]) == (status, error_code)
    assert message in response.json()["message"]


def test_update_merges_tasks_by_key_and_removes_named_entries(emulator):
    task = {"task_key": "a", **NOTEBOOK}
    created = call(emulator, "POST", "jobs/create", {"name": "contract.update", "tasks": [task]})
    job_id = ok(created)["job_id"]
    ok(call(emulator, "POST", "jobs/update", {
        "job_id": job_id,
        "new_settings": {"tasks": [{"task_key": "b", **NOTEBOOK}], "timeout_seconds": 60},
    }))
    settings = ok(call(emulator, "GET", "jobs/get", {"job_id": job_id}))["settings"]
    assert [t["task_key"] for t in settings["tasks"]] == ["a", "b"]
    assert settings["timeout_seconds"] == 60
    ok(call(emulator, "POST", "jobs/update", {"job_id": job_id, "fields_to_remove": ["tasks/a"]}))
    settings = ok(call(emulator, "GET", "jobs/get", {"job_id": job_id}))["settings"]
    assert [t["task_key"] for t in settings["tasks"]] == ["b"]


def _launch_workflow(emulator) -> tuple[int, int]:
    """What the workflow group's launch task does: list by name, create or reset, run-now."""
    group = PAYLOADS["workflow_group"]
    settings = group["settings"]
    found = call(emulator, "GET", "jobs/list", {"name": settings["name"], "expand_tasks": "False"})
    jobs = ok(found).get("jobs", [])
    if jobs:
        job_id = jobs[0]["job_id"]
        ok(call(emulator, "POST", "jobs/reset", {"job_id": job_id, "new_settings": settings}))
    else:
        job_id = ok(call(emulator, "POST", "jobs/create", settings))["job_id"]
    started = call(emulator, "POST", "jobs/run-now", {"job_id": str(job_id), **group["run_now"]})
    run_id = ok(started)["run_id"]
    return job_id, run_id


def test_workflow_group_creates_then_resets_the_same_job(emulator, client):
    """A second DAG run of a DatabricksWorkflowTaskGroup resets the job the first one created."""
    source = 'dbutils.widgets.text("table", "none")\n'
    source += 'dbutils.notebook.exit(dbutils.widgets.get("table"))'
    upload_notebook(client, NOOP, source)
    launched = []
    for _ in range(2):
        job_id, run_id = _launch_workflow(emulator)
        state = ok(call(emulator, "GET", "jobs/runs/get", {"run_id": run_id}))["state"]
        assert state["life_cycle_state"] in ("PENDING", "RUNNING")  # what the launch task needs
        run = wait_terminated(emulator, run_id)
        assert run["state"]["result_state"] == "SUCCESS", run["state"]["state_message"]
        launched.append((job_id, run_id))
    (first_job, first_run), (second_job, second_run) = launched
    assert second_job == first_job and second_run != first_run
    load = next(t for t in run["tasks"] if t["task_key"].endswith("__load"))
    output = ok(call(emulator, "GET", "jobs/runs/get-output", {"run_id": load["run_id"]}))
    assert output["notebook_output"]["result"] == "orders"
