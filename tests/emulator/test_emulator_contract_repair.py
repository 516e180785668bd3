"""runs/repair reruns failed tasks and their dependents in the same run, as the provider's
DatabricksWorkflowTaskGroup repair link and DatabricksRunNowOperator(repair_run=True) use it."""

from __future__ import annotations

from conftest import upload_notebook, wait_done
from emulator.contract_client import call, ok, wait_terminated
from databricks.sdk.service import jobs

FLAKY = """
dbutils.widgets.text("mode", "ok")
if dbutils.widgets.get("mode") == "fail":
    raise RuntimeError("upstream file not there yet")
dbutils.notebook.exit("done")
"""


def _task(key: str, path: str, *upstream: str) -> dict:
    return {
        "task_key": key,
        "depends_on": [{"task_key": u} for u in upstream],
        "notebook_task": {"notebook_path": path},
    }


def test_repair_reruns_the_failed_task_and_its_dependents_only(emulator, client):
    upload_notebook(client, "/Shared/contract/flaky", FLAKY)
    upload_notebook(client, "/Shared/contract/fine", "dbutils.notebook.exit('fine')")
    fine, flaky = "/Shared/contract/fine", "/Shared/contract/flaky"
    settings = {
        "name": "contract.repair",
        "tasks": [
            _task("a", fine),
            _task("b", flaky),
            _task("c", fine, "b"),
            _task("d", fine, "a"),
        ],
    }
    job_id = ok(call(emulator, "POST", "jobs/create", settings))["job_id"]
    run_now = {"job_id": job_id, "notebook_params": {"mode": "fail"}}
    run_id = ok(call(emulator, "POST", "jobs/run-now", run_now))["run_id"]
    first = wait_terminated(emulator, run_id)
    before = {t["task_key"]: t for t in first["tasks"]}
    assert first["state"]["result_state"] == "FAILED"
    assert before["b"]["state"]["result_state"] == "FAILED"
    assert before["c"]["state"]["result_state"] == "UPSTREAM_FAILED"

    # The shape of the workflow group's repair link: latest_repair_id null on a first repair,
    # and overriding_parameters, which the service ignores.
    repair = {
        "run_id": run_id,
        "latest_repair_id": None,
        "rerun_tasks": ["b"],
        "overriding_parameters": {"notebook_params": {"mode": "fail"}},
        "notebook_params": {"mode": "ok"},
    }
    repair_id = ok(call(emulator, "POST", "jobs/runs/repair", repair))["repair_id"]
    repaired = wait_terminated(emulator, run_id)
    after = {t["task_key"]: t for t in repaired["tasks"]}
    assert repaired["state"]["result_state"] == "SUCCESS", repaired["state"]["state_message"]
    assert {k for k in after if after[k]["run_id"] != before[k]["run_id"]} == {"b", "c"}
    assert after["b"]["state"]["result_state"] == "SUCCESS"

    history = ok(
        call(emulator, "GET", "jobs/runs/get", {"run_id": run_id, "include_history": "true"})
    )["repair_history"]
    assert [h["type"] for h in history] == ["ORIGINAL", "REPAIR"]
    assert history[0]["state"]["result_state"] == "FAILED"
    assert history[1]["id"] == repair_id
    assert sorted(history[1]["task_run_ids"]) == sorted(after[k]["run_id"] for k in "bc")
    old_b = ok(call(emulator, "GET", "jobs/runs/get", {"run_id": before["b"]["run_id"]}))
    assert old_b["state"]["result_state"] == "FAILED"

    stale = call(emulator, "POST", "jobs/runs/repair", {"run_id": run_id, "rerun_tasks": ["a"]})
    assert (stale.status_code, stale.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert str(repair_id) in stale.json()["message"]

    # The SDK's own call, with rerun_dependent_tasks: d reruns although it had succeeded.
    second = client.jobs.repair_run(
        run_id, latest_repair_id=repair_id, rerun_tasks=["a"], rerun_dependent_tasks=True
    ).response.repair_id
    final = wait_done(client, run_id)
    assert final.state.result_state == jobs.RunResultState.SUCCESS
    rerun = {t.task_key for t in final.tasks if t.run_id != after[t.task_key]["run_id"]}
    assert rerun == {"a", "d"}
    assert client.jobs.get_run(run_id, include_history=True).repair_history[-1].id == second


def test_repair_refuses_an_active_run_and_unknown_tasks(emulator, client):
    upload_notebook(client, "/Shared/contract/sleeper", "import time\ntime.sleep(120)")
    task = _task("sleep", "/Shared/contract/sleeper")
    run_id = ok(call(emulator, "POST", "jobs/runs/submit", {"run_name": "r", "tasks": [task]}))[
        "run_id"
    ]
    repair = {"run_id": run_id, "rerun_tasks": ["sleep"]}
    active = call(emulator, "POST", "jobs/runs/repair", repair)
    assert (active.status_code, active.json()["error_code"]) == (400, "INVALID_STATE")
    ok(call(emulator, "POST", "jobs/runs/cancel", {"run_id": run_id}))
    wait_terminated(emulator, run_id)
    unknown = call(emulator, "POST", "jobs/runs/repair", {"run_id": run_id, "rerun_tasks": ["x"]})
    assert (unknown.status_code, unknown.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert "no task 'x'" in unknown.json()["message"]
