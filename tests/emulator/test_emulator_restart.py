"""A killed emulator comes back with its state: jobs, workspace, runs (an interrupted one ended as a
lost driver), idempotency tokens, tables; it leaves no process behind, refuses a corrupt state
file by name, and ends with the process that started it."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import LIB_ROOT, notebook_task, start_server, stop_server, upload_notebook, wait_done
import requests
from databricks.sdk import WorkspaceClient
from databricks.sdk.service import jobs
from local_databricks.processes import ProcessLedger, descendants, start_time

INTERRUPTED = """\
import pathlib, time
spark.sql("CREATE TABLE written_before_the_crash USING delta AS SELECT 42 AS answer")
pathlib.Path(dbutils.widgets.get("marker")).write_text("table written")
time.sleep(600)
"""
READ_BACK = """\
dbutils.notebook.exit(str(spark.table("written_before_the_crash").first().answer))
"""


def _client(info: dict) -> WorkspaceClient:
    return WorkspaceClient(host=info["url"], token=info["token"])


def _wait_for(condition, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen in {timeout} s"
        time.sleep(0.2)


def test_kill_9_mid_run_then_restart(tmp_path: Path) -> None:
    # A run directory left by an older state dir, with a stale result in it.
    stale = tmp_path / "runs" / "1000" / "1001"
    stale.mkdir(parents=True)
    (stale / "result.json").write_text(json.dumps({"result": "stale", "error": None}))
    proc, info = start_server(tmp_path)
    try:
        client = _client(info)
        upload_notebook(client, "/Users/dev/interrupted", INTERRUPTED)
        job_id = client.jobs.create(name="kept").job_id
        marker = tmp_path / "marker"
        run_id = client.jobs.submit(
            run_name="interrupted",
            idempotency_token="restart-token",
            tasks=[notebook_task("t", "/Users/dev/interrupted", marker=str(marker))],
        ).response.run_id
        assert run_id > 1001, "a new run must not reuse an existing run directory"
        _wait_for(marker.exists, "the task writing its table")
        children = {pid: t for pid in descendants(proc.pid) if (t := start_time(pid)) is not None}
        assert len(children) >= 2, "a task process and a Sail compute should be running"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

        proc, info = start_server(tmp_path)
        client = _client(info)
        left = [pid for pid, started in children.items() if start_time(pid) == started]
        assert not left, f"processes of the killed server still running: {left}"

        run = client.jobs.get_run(run_id)
        assert run.state.life_cycle_state == jobs.RunLifeCycleState.INTERNAL_ERROR
        assert run.state.result_state == jobs.RunResultState.FAILED
        assert "driver lost" in run.state.state_message
        assert run.tasks[0].state.life_cycle_state == jobs.RunLifeCycleState.INTERNAL_ERROR
        assert client.jobs.get(job_id).settings.name == "kept"
        exported = client.workspace.export("/Users/dev/interrupted").content
        assert "written_before_the_crash" in base64.b64decode(exported).decode()
        resubmitted = client.jobs.submit(
            run_name="interrupted",
            idempotency_token="restart-token",
            tasks=[notebook_task("t", "/Users/dev/interrupted", marker=str(marker))],
        ).response.run_id
        assert resubmitted == run_id

        # The table the interrupted run wrote is in the catalog, as on Databricks.
        upload_notebook(client, "/Users/dev/read_back", READ_BACK)
        after = client.jobs.submit(
            run_name="read_back", tasks=[notebook_task("r", "/Users/dev/read_back")]
        ).response.run_id
        assert after > max(run_id, run.tasks[0].run_id), "run ids are never reused"
        done = wait_done(client, after)
        assert done.state.result_state == jobs.RunResultState.SUCCESS, done.state.state_message
        assert client.jobs.get_run_output(done.tasks[0].run_id).notebook_output.result == "42"

        # Its cluster's lifetime is still accounted for, ending when the killed server last wrote.
        usage = requests.get(f"{info['url']}/emulator/usage", params={"run_id": run_id},
                             headers={"Authorization": f"Bearer {info['token']}"}, timeout=30)
        [cluster] = usage.json()["clusters"]
        assert cluster["stopped_at"] is not None and cluster["stopped_at"] >= cluster["started_at"]
    finally:
        stop_server(proc)


def test_the_token_of_a_deleted_run_is_refused_also_after_a_restart(tmp_path: Path) -> None:
    from databricks.sdk.errors import InvalidParameterValue

    def submit(client: WorkspaceClient) -> int:
        return client.jobs.submit(run_name="once", idempotency_token="deleted-run-token",
                                  tasks=[notebook_task("t", "/Users/dev/once")]).response.run_id

    proc, info = start_server(tmp_path)
    try:
        client = _client(info)
        upload_notebook(client, "/Users/dev/once", 'dbutils.notebook.exit("done")')
        run_id = submit(client)
        assert wait_done(client, run_id).state.result_state == jobs.RunResultState.SUCCESS
        client.jobs.delete_run(run_id)
        for restarted in (False, True):
            if restarted:
                stop_server(proc)
                proc, info = start_server(tmp_path)
                client = _client(info)
            try:
                submit(client)
            except InvalidParameterValue as refused:
                assert f"'deleted-run-token' (run {run_id}) was deleted" in str(refused)
            else:
                raise AssertionError(f"a deleted run's token started a run (restart: {restarted})")
    finally:
        stop_server(proc)


def test_state_files_survive_a_kill_during_writes(tmp_path: Path) -> None:
    """Every acknowledged job is there after a kill -9 that lands while jobs.json is rewritten."""
    proc, info = start_server(tmp_path)
    created: list[int] = []

    def create_jobs() -> None:
        # Plain requests, no retries: the loop ends at the kill.
        url = f"{info['url']}/api/2.2/jobs/create"
        headers = {"Authorization": f"Bearer {info['token']}"}
        try:
            while True:
                answer = requests.post(url, json={"name": "j"}, headers=headers, timeout=30)
                created.append(answer.json()["job_id"])
        except requests.ConnectionError:
            pass

    writer = threading.Thread(target=create_jobs)
    writer.start()
    _wait_for(lambda: len(created) >= 20, "20 jobs created")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    writer.join()

    proc, info = start_server(tmp_path)
    try:
        listed = {job.job_id for job in _client(info).jobs.list()}
        assert set(created) <= listed
    finally:
        stop_server(proc)


def test_corrupt_state_file_is_named_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "jobs.json").write_text('{"next_id": 3, "jobs": {"1": {"job_')
    result = subprocess.run(
        [sys.executable, "-m", "local_databricks", "serve", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | {"PYTHONPATH": str(LIB_ROOT)},
    )
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert str(tmp_path / "jobs.json") in message
    assert f"mv {tmp_path / 'jobs.json'} {tmp_path / 'jobs.json'}.corrupt" in message
    assert "Traceback" not in result.stderr


def test_server_exits_when_its_starter_dies(tmp_path: Path) -> None:
    starter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; "
            "server = subprocess.Popen([sys.executable, '-m', 'local_databricks', 'serve', "
            f"'--state-dir', {str(tmp_path)!r}, '--exit-with-parent']); "
            "print(server.pid, flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONPATH": str(LIB_ROOT)},
    )
    server_pid = int(starter.stdout.readline())
    server_started = start_time(server_pid)
    _wait_for((tmp_path / "server.json").exists, "the server starting", timeout=30)
    starter.kill()
    starter.wait()
    _wait_for(lambda: start_time(server_pid) != server_started, "the server exiting", timeout=30)


def test_leftovers_of_a_dead_server_are_ended_but_not_a_reused_pid(tmp_path: Path) -> None:
    dead_server = subprocess.Popen(["true"])
    dead_server.wait()
    orphan = subprocess.Popen(["sleep", "600"], start_new_session=True)
    reused = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        ledger = tmp_path / "processes.json"
        ledger.write_text(json.dumps({
            str(orphan.pid): {"what": "task process", "started": start_time(orphan.pid),
                              "owner": dead_server.pid, "owner_started": 1},
            # Recorded with another start time: the pid now belongs to another process.
            str(reused.pid): {"what": "Sail compute", "started": start_time(reused.pid) - 1,
                              "owner": dead_server.pid, "owner_started": 1},
        }))  # fmt: skip
        ended = ProcessLedger(ledger).end_orphans()
        assert ended == [f"task process (pid {orphan.pid})"]
        assert orphan.wait(10) == -signal.SIGTERM
        assert reused.poll() is None
        assert json.loads(ledger.read_text()) == {}
    finally:
        for proc in (orphan, reused):
            proc.kill()
            proc.wait()
