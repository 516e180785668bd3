"""Task processes see what a Databricks driver sees: the cluster's runtime Python and
spark_env_vars, DATABRICKS_RUNTIME_VERSION, nothing of the emulator host's environment."""

from __future__ import annotations

import json
import os

import pytest
from conftest import new_cluster, upload_notebook, wait_done
from databricks.sdk.service import jobs
from local_databricks.cluster_env import ClusterEnvError, find_python
from local_databricks.runtimes import RUNTIMES

# Set at import, so before the session's emulator server starts (pytest collects every module
# first): the server process has it, and a task must not.
HOST_MARKER = "LOCAL_DATABRICKS_TEST_HOST_ONLY"
os.environ[HOST_MARKER] = "host"

REPORT_ENV = """
import json, os, sys
dbutils.notebook.exit(json.dumps({
    "env": dict(os.environ),
    "python": list(sys.version_info[:2]),
    "spark": spark.range(2).count(),
}))
"""


def _report(client, spark_version: str, **spark_env_vars: str) -> dict:
    upload_notebook(client, "/Users/dev/report_env", REPORT_ENV)
    run_id = client.jobs.submit(
        run_name=f"env-{spark_version}",
        tasks=[
            jobs.SubmitTask(
                task_key="env",
                notebook_task=jobs.NotebookTask("/Users/dev/report_env"),
                new_cluster=new_cluster(spark_version, **spark_env_vars),
            )
        ],
    ).response.run_id
    run = wait_done(client, run_id, timeout=280)
    output = client.jobs.get_run_output(run.tasks[0].run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS, output.error_trace
    return json.loads(output.notebook_output.result)


def test_task_env_has_the_cluster_settings_and_nothing_of_the_host(client):
    report = _report(client, "16.4.x-scala2.12", PIPELINE_ENV="local", DBT_TARGET="dev")
    env = report["env"]
    assert HOST_MARKER not in env
    assert env["PIPELINE_ENV"] == "local" and env["DBT_TARGET"] == "dev"
    assert env["DATABRICKS_RUNTIME_VERSION"] == "16.4"
    assert env["TZ"] == "Etc/UTC"
    # SPARK_CONNECT_MODE_ENABLED: set by pyspark inside the task process when the session starts.
    assert set(env) - {"SPARK_CONNECT_MODE_ENABLED"} == {
        "PATH", "HOME", "LANG", "TZ", "PYTHONPATH", "PYTHONUNBUFFERED", "SPARK_REMOTE",
        "DATABRICKS_RUNTIME_VERSION", "PIPELINE_ENV", "DBT_TARGET",
    }
    assert report["python"] == [3, 12] and report["spark"] == 2


def test_a_15_4_cluster_runs_task_code_on_python_3_11(client):
    report = _report(client, "15.4.x-scala2.12")
    assert report["python"] == [3, 11]
    assert report["env"]["DATABRICKS_RUNTIME_VERSION"] == "15.4"
    assert report["spark"] == 2


def test_a_runtime_whose_python_is_missing_is_refused_naming_it_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ClusterEnvError) as refused:
        find_python(RUNTIMES["13.3.x-scala2.12"])
    message = str(refused.value)
    assert "13.3 LTS" in message and "Python 3.10" in message
    assert "pyenv install 3.10" in message
