"""The REST surface: auth, fault injection, jobs with shared clusters, wheels."""

from __future__ import annotations

import io
import zipfile

import pytest
import requests
from conftest import ensure_volume, upload_notebook, wait_done
from databricks.sdk.errors import NotFound
from databricks.sdk.service import compute, jobs


def _post(emulator, path, body, token=None):
    headers = {"Authorization": f"Bearer {token or emulator['token']}"}
    return requests.post(f"{emulator['url']}{path}", json=body, headers=headers, timeout=10)


def test_unknown_run_is_404_and_get_reads_a_json_body(emulator, client):
    with pytest.raises(NotFound):
        client.jobs.get_run(424242)
    response = requests.get(
        f"{emulator['url']}/api/2.2/jobs/runs/get",
        json={"run_id": "1"},
        headers={"Authorization": f"Bearer {emulator['token']}"},
        timeout=10,
    )
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_wrong_or_missing_token_is_refused(emulator):
    assert (
        _post(
            emulator, "/api/2.2/jobs/runs/cancel", {"run_id": 1}, token="not-the-token"
        ).status_code
        == 403
    )
    missing = requests.post(
        f"{emulator['url']}/api/2.2/jobs/runs/cancel", json={"run_id": 1}, timeout=10
    )
    assert missing.status_code == 401
    assert missing.json()["error_code"] == "UNAUTHENTICATED"


def test_injected_429_is_answered_then_clears(emulator, client):
    fault = {"endpoint": "jobs/list", "status": 429, "count": 1}
    assert _post(emulator, "/emulator/faults", fault).status_code == 200
    headers = {"Authorization": f"Bearer {emulator['token']}"}
    first = requests.get(f"{emulator['url']}/api/2.2/jobs/list", headers=headers, timeout=10)
    assert first.status_code == 429
    assert first.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    second = requests.get(f"{emulator['url']}/api/2.2/jobs/list", headers=headers, timeout=10)
    assert second.status_code == 200


def test_multi_task_job_shares_one_job_cluster(emulator, client):
    upload_notebook(
        client,
        "/Shared/produce",
        """
spark.range(5).createOrReplaceTempView("shared_view")
dbutils.jobs.taskValues.set("rows", 5)
""",
    )
    upload_notebook(
        client,
        "/Shared/consume",
        """
rows = dbutils.jobs.taskValues.get(taskKey="produce", key="rows")
dbutils.notebook.exit(f"{rows}:{spark.table('shared_view').count()}:{dbutils.widgets.get('env')}")
""",
    )
    cluster = compute.ClusterSpec(spark_version="15.4.x-scala2.12", num_workers=1)
    job_id = client.jobs.create(
        name="etl.shared",
        job_clusters=[jobs.JobCluster(job_cluster_key="main", new_cluster=cluster)],
        tasks=[
            jobs.Task(
                task_key="produce",
                job_cluster_key="main",
                notebook_task=jobs.NotebookTask(notebook_path="/Shared/produce"),
            ),
            jobs.Task(
                task_key="consume",
                job_cluster_key="main",
                depends_on=[jobs.TaskDependency(task_key="produce")],
                notebook_task=jobs.NotebookTask(notebook_path="/Shared/consume"),
            ),
        ],
    ).job_id
    assert [j.job_id for j in client.jobs.list(name="etl.shared")] == [job_id]
    run_id = client.jobs.run_now(job_id, notebook_params={"env": "local"}).response.run_id
    run = wait_done(client, run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state.state_message
    consume = next(t for t in run.tasks if t.task_key == "consume")
    assert client.jobs.get_run(consume.run_id).state.result_state == jobs.RunResultState.SUCCESS
    assert client.jobs.get_run_output(consume.run_id).notebook_output.result == "5:5:local"

    usage = requests.get(
        f"{emulator['url']}/emulator/usage",
        params={"run_id": run_id},
        headers={"Authorization": f"Bearer {emulator['token']}"},
        timeout=10,
    )
    assert usage.json()["cluster_starts"] == 1
    assert usage.json()["cluster_seconds"] > 0
    page = requests.get(run.run_page_url, timeout=10)
    assert page.status_code == 200 and "consume" in page.text


def _tiny_wheel() -> bytes:
    """A pure-Python wheel with a console_scripts entry point, built with zipfile."""
    dist = "tiny_job-0.1.dist-info"
    files = {
        "tiny_job/__init__.py": (
            "import sys\n"
            "def main():\n"
            "    from pyspark.sql import SparkSession\n"
            "    n = SparkSession.builder.getOrCreate().range(3).count()\n"
            "    print('tiny_job args', sys.argv[1:], 'rows', n)\n"
        ),
        f"{dist}/METADATA": "Metadata-Version: 2.1\nName: tiny-job\nVersion: 0.1\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
        f"{dist}/entry_points.txt": "[console_scripts]\nrun-tiny = tiny_job:main\n",
        f"{dist}/RECORD": "",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_wheel_task_runs_its_entry_point(client):
    wheel_path = "/Volumes/main/default/libs/tiny_job-0.1-py3-none-any.whl"
    ensure_volume(client, "main", "default", "libs")
    client.files.upload(wheel_path, io.BytesIO(_tiny_wheel()), overwrite=True)
    run_id = client.jobs.submit(
        run_name="wheel",
        tasks=[
            jobs.SubmitTask(
                task_key="wheel",
                python_wheel_task=jobs.PythonWheelTask(
                    package_name="tiny_job",
                    entry_point="run-tiny",
                    named_parameters={"env": "local"},
                ),
                libraries=[compute.Library(whl=wheel_path)],
            )
        ],
    ).response.run_id
    run = wait_done(client, run_id)
    output = client.jobs.get_run_output(run.tasks[0].run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS, output.error_trace
    assert "tiny_job args ['--env=local'] rows 3" in output.logs


def test_submit_run_belongs_to_a_one_time_job(client):
    """As on Databricks, runs/get of a runs/submit run names its (anonymous) job: the provider's
    deferrable operators read job_id from it."""
    upload_notebook(client, "/Shared/noop", "dbutils.notebook.exit('ok')")
    run_id = client.jobs.submit(
        run_name="one-time",
        tasks=[jobs.SubmitTask(task_key="noop", notebook_task=jobs.NotebookTask("/Shared/noop"))],
    ).response.run_id
    run = wait_done(client, run_id)
    assert run.run_type == jobs.RunType.SUBMIT_RUN
    assert run.job_id is not None
    assert client.jobs.get_run(run.tasks[0].run_id).job_id == run.job_id
    assert run.job_id not in [job.job_id for job in client.jobs.list()]


def test_workspace_api_refuses_volume_paths(emulator):
    body = {"path": "/Volumes/main/default/libs/x.whl", "format": "AUTO", "content": "UEs="}
    response = _post(emulator, "/api/2.0/workspace/import", body)
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "Files API" in response.json()["message"]
