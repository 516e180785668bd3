"""run-now's parameters and what runs/get shows of them and of waiting tasks, as Jobs API 2.2
has them."""

from __future__ import annotations

import json

from conftest import new_cluster, upload_notebook, wait_done
from databricks.sdk.service import jobs
from emulator.contract_client import call, fail_next_run, ok, wait_for_tasks

NOTEBOOK = "/Users/dev/contract/run_now"
TASK = {"notebook_task": {"notebook_path": NOTEBOOK},
        "new_cluster": {"spark_version": "16.4.x-scala2.12", "node_type_id": "local",
                        "num_workers": 0}}


def create_job(emulator, client, *task_keys: str, **settings) -> int:
    """A job of notebook tasks, each depending on the one before."""
    upload_notebook(client, NOTEBOOK, "pass\n")
    tasks = [{"task_key": key, **TASK} | ({"depends_on": [{"task_key": task_keys[i - 1]}]}
                                          if i else {})
             for i, key in enumerate(task_keys)]
    return ok(call(emulator, "POST", "jobs/create", {"name": "run-now", "tasks": tasks,
                                                     **settings}))["job_id"]


def test_job_parameters_cannot_come_with_notebook_params(emulator, client):
    job_id = create_job(emulator, client, "a")
    refused = call(emulator, "POST", "jobs/run-now", {
        "job_id": job_id, "job_parameters": {"day": "1"}, "notebook_params": {"day": "2"}})
    assert (refused.status_code, refused.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert refused.json()["message"] == (
        "job_parameters can not be used in combination with notebook_params")


def test_a_run_shows_its_job_parameters_and_sql_params(emulator, client):
    job_id = create_job(emulator, client, "a", parameters=[{"name": "day", "default": "d0"},
                                                           {"name": "env", "default": "local"}])
    fail_next_run(emulator)
    run_id = client.jobs.run_now(job_id, job_parameters={"day": "2025-03-01"}).run_id
    run = wait_done(client, run_id)
    assert {p.name: p.value for p in run.job_parameters} == {"day": "2025-03-01", "env": "local"}
    answer = ok(call(emulator, "GET", "jobs/runs/get", {"run_id": run_id}))
    assert "job_parameters" not in answer.get("overriding_parameters", {})  # not in RunParameters

    fail_next_run(emulator)
    sql_run = client.jobs.run_now(create_job(emulator, client, "a"), sql_params={"v": "x"}).run_id
    assert wait_done(client, sql_run).overriding_parameters.sql_params == {"v": "x"}


def test_a_task_waiting_for_its_upstream_task_is_blocked(emulator, client):
    job_id = create_job(emulator, client, "first", "second")
    ok(call(emulator, "POST", "/emulator/faults", {"run": "hang"}))
    run_id = client.jobs.run_now(job_id).run_id
    try:
        tasks = wait_for_tasks(emulator, run_id,
                               lambda ts: ts["first"]["state"]["life_cycle_state"] == "RUNNING")
        assert tasks["second"]["state"]["life_cycle_state"] == "BLOCKED"
    finally:
        client.jobs.cancel_run(run_id)
        wait_done(client, run_id)


def test_dynamic_value_references_are_filled_in_when_the_task_starts(emulator, client):
    widgets = ("run", "task", "when", "first", "text")
    upload_notebook(client, "/Users/dev/contract/echo", "import json\ndbutils.notebook.exit("
                    f"json.dumps({{k: dbutils.widgets.get(k) for k in {widgets}}}))\n")
    echo = {"notebook_task": {"notebook_path": "/Users/dev/contract/echo", "base_parameters": {
        "run": "{{job.run_id}}", "task": "{{task.name}}", "when": "day {{ job.parameters.day }}",
        "text": "{{not_a_reference}}"}}}  # outside the references' namespaces: left as it is
    job_id = ok(call(emulator, "POST", "jobs/create", {
        "name": "references", "tasks": [{"task_key": "echo", **TASK, **echo}],
        "parameters": [{"name": "day", "default": "d0"},
                       {"name": "first", "default": "{{job.run_id}}"}]}))["job_id"]
    run = wait_done(client, client.jobs.run_now(job_id, job_parameters={"day": "2025-03-01"})
                    .run_id)
    (task,) = run.tasks
    output = json.loads(client.jobs.get_run_output(task.run_id).notebook_output.result)
    assert output == {"run": str(run.run_id), "task": "echo", "when": "day 2025-03-01",
                      "first": str(run.run_id), "text": "{{not_a_reference}}"}


def test_an_unknown_dynamic_value_reference_fails_the_task_naming_it(emulator, client):
    upload_notebook(client, NOTEBOOK, "pass\n")
    run_id = client.jobs.submit(run_name="unknown-reference", tasks=[jobs.SubmitTask(
        task_key="a", notebook_task=jobs.NotebookTask(
            notebook_path=NOTEBOOK, base_parameters={"x": "{{tasks.b.values.y}}"}),
        new_cluster=new_cluster("16.4.x-scala2.12"))]).run_id
    (task,) = wait_done(client, run_id).tasks
    assert task.state.result_state == jobs.RunResultState.FAILED
    assert "{{tasks.b.values.y}} is not one the local emulator fills in" in \
        task.state.state_message
