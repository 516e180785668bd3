"""The cluster pool: with room for one cluster, a second run waits PENDING until the first run's
cluster has stopped, a waiting run can be cancelled, both runs finish, and a run needing two
clusters gets them one after the other."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from conftest import LIB_ROOT, notebook_task, start_server, stop_server, upload_notebook, wait_done
from databricks.sdk import WorkspaceClient
from databricks.sdk.service import compute, jobs

WAIT_FOR_FILE = """\
import os, time
while not os.path.exists(dbutils.widgets.get("release")):
    time.sleep(0.1)
"""
ONE_LINE = "dbutils.notebook.exit('done')\n"
SPARK_VERSION = "16.4.x-scala2.12"


@pytest.fixture(scope="module")
def one_cluster(tmp_path_factory):
    proc, info = start_server(tmp_path_factory.mktemp("one-cluster"), "--max-clusters", "1")
    yield info
    stop_server(proc)


def _usage(info: dict, run_id: int | None = None) -> dict:
    return requests.get(
        f"{info['url']}/emulator/usage",
        params={"run_id": run_id} if run_id else None,
        headers={"Authorization": f"Bearer {info['token']}"},
        timeout=10,
    ).json()


def _state(client: WorkspaceClient, run_id: int) -> jobs.RunLifeCycleState:
    return client.jobs.get_run(run_id).state.life_cycle_state


def test_second_run_waits_pending_for_the_only_cluster(one_cluster: dict, tmp_path: Path) -> None:
    client = WorkspaceClient(host=one_cluster["url"], token=one_cluster["token"])
    upload_notebook(client, "/Users/dev/hold", WAIT_FOR_FILE)
    upload_notebook(client, "/Users/dev/one_line", ONE_LINE)
    release = tmp_path / "release"
    first = client.jobs.submit(
        run_name="first", tasks=[notebook_task("hold", "/Users/dev/hold", release=str(release))]
    ).response.run_id
    deadline = time.monotonic() + 120
    while _state(client, first) != jobs.RunLifeCycleState.RUNNING:
        assert time.monotonic() < deadline, "the first run did not start"
        time.sleep(0.2)

    second = client.jobs.submit(
        run_name="second", tasks=[notebook_task("one_line", "/Users/dev/one_line")]
    ).response.run_id
    cancelled = client.jobs.submit(
        run_name="cancelled", tasks=[notebook_task("one_line", "/Users/dev/one_line")]
    ).response.run_id
    waiting = client.jobs.get_run(second)
    assert waiting.state.life_cycle_state == jobs.RunLifeCycleState.PENDING
    assert waiting.tasks[0].state.life_cycle_state == jobs.RunLifeCycleState.PENDING

    client.jobs.cancel_run(cancelled)
    run = wait_done(client, cancelled)
    assert run.state.result_state == jobs.RunResultState.CANCELED
    assert _usage(one_cluster, cancelled)["cluster_starts"] == 0
    assert _state(client, second) == jobs.RunLifeCycleState.PENDING

    release.write_text("go")
    for run_id in (first, second):
        run = wait_done(client, run_id)
        assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state.state_message
    [first_cluster] = _usage(one_cluster, first)["clusters"]
    [second_cluster] = _usage(one_cluster, second)["clusters"]
    assert second_cluster["started_at"] >= first_cluster["stopped_at"]
    assert _usage(one_cluster)["clusters_alive_peak"] == 1


def test_a_run_needing_two_clusters_gets_them_one_after_the_other(one_cluster: dict) -> None:
    """The first task's cluster, idle once it is done, makes room for the second one's."""
    client = WorkspaceClient(host=one_cluster["url"], token=one_cluster["token"])
    upload_notebook(client, "/Users/dev/one_line", ONE_LINE)
    spec = compute.ClusterSpec(spark_version=SPARK_VERSION, node_type_id="i3.xlarge", num_workers=1)
    job_id = client.jobs.create(
        name="two clusters",
        job_clusters=[jobs.JobCluster(key, spec) for key in ("a", "b")],
        tasks=[
            jobs.Task(task_key="on_a", job_cluster_key="a",
                      notebook_task=jobs.NotebookTask("/Users/dev/one_line")),
            jobs.Task(task_key="on_b", job_cluster_key="b",
                      depends_on=[jobs.TaskDependency("on_a")],
                      notebook_task=jobs.NotebookTask("/Users/dev/one_line")),
        ],
    ).job_id  # fmt: skip
    run = wait_done(client, client.jobs.run_now(job_id).response.run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state.state_message
    assert _usage(one_cluster, run.run_id)["cluster_starts"] == 2
    assert _usage(one_cluster)["clusters_alive_peak"] == 1


def test_a_pool_without_room_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "local_databricks", "serve", "--state-dir", str(tmp_path),
         "--max-clusters", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | {"PYTHONPATH": str(LIB_ROOT)},
    )
    assert result.returncode != 0
    assert "--max-clusters 0: at least 1 cluster is needed" in result.stderr
