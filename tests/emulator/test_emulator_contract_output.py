"""runs/get-output of a failed task says why: the provider logs `error`, so a bare exit
("SystemExit: 2") is explained by the task's own output, and error_trace carries its tail."""

from __future__ import annotations

import io

from conftest import ensure_volume
from emulator.contract_client import call, ok, wait_terminated

CLI = """
import argparse

print("loading orders for the day")
parser = argparse.ArgumentParser(prog="load_orders")
parser.add_argument("--date", required=True)
parser.parse_args()
"""


def test_failed_python_file_task_reports_its_error_line_and_output_tail(emulator, client):
    path = f"{ensure_volume(client, 'main', 'default', 'scripts')}/load_orders.py"
    client.files.upload(path, io.BytesIO(CLI.encode()), overwrite=True)
    task = {"task_key": "load", "spark_python_task": {"python_file": path}}
    run_id = ok(call(emulator, "POST", "jobs/runs/submit", {"run_name": "cli", "tasks": [task]}))[
        "run_id"
    ]
    run = wait_terminated(emulator, run_id)
    assert run["state"]["result_state"] == "FAILED"
    task_run_id = run["tasks"][0]["run_id"]
    output = ok(call(emulator, "GET", "jobs/runs/get-output", {"run_id": task_run_id}))
    assert output["error"] == (
        "load_orders: error: the following arguments are required: --date (SystemExit: 2)"
    )
    assert "loading orders for the day" in output["error_trace"]
    assert "usage: load_orders [-h] --date DATE" in output["error_trace"]

    # The run's own id has no output, even with one task: Databricks sends callers to its tasks.
    whole_run = call(emulator, "GET", "jobs/runs/get-output", {"run_id": run_id})
    assert (whole_run.status_code, whole_run.json()["error_code"]) == (
        400, "INVALID_PARAMETER_VALUE")
    assert "retrieve the output of each individual task run" in whole_run.json()["message"]
