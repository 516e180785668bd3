"""Task processes see what a Databricks driver sees: the cluster's runtime Python and
spark_env_vars, DATABRICKS_RUNTIME_VERSION, nothing of the emulator host's environment."""

from __future__ import annotations

import json
import os

import pytest
from conftest import new_cluster, run_notebook_task
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


def _submit_report(client, compute: dict) -> jobs.Run:
    """Run the env-reporting notebook on `compute` (new_cluster= or existing_cluster_id=)."""
    return run_notebook_task(client, "report_env", REPORT_ENV, **compute)


def _report(client, spark_version: str, **spark_env_vars: str) -> dict:
    run = _submit_report(client, {"new_cluster": new_cluster(spark_version, **spark_env_vars)})
    return _output(client, run)


def _output(client, run: jobs.Run) -> dict:
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


def test_secret_references_in_spark_env_vars_are_resolved_from_the_secret_scope(client):
    client.secrets.create_scope("dbt-warehouse")
    client.secrets.put_secret("dbt-warehouse", "token", string_value="dapi-local-value")
    report = _report(client, "16.4.x-scala2.12", DBT_TOKEN="{{secrets/dbt-warehouse/token}}")
    assert report["env"]["DBT_TOKEN"] == "dapi-local-value"


def test_a_missing_secret_fails_the_cluster_start_naming_the_reference(client):
    cluster = new_cluster("16.4.x-scala2.12", DBT_TOKEN="{{secrets/no-such-scope/token}}")
    run = _submit_report(client, {"new_cluster": cluster})
    task = run.tasks[0]
    assert task.state.life_cycle_state == jobs.RunLifeCycleState.INTERNAL_ERROR
    assert "spark_env_vars.DBT_TOKEN" in task.state.state_message
    assert "{{secrets/no-such-scope/token}}" in task.state.state_message


def test_a_task_on_an_existing_cluster_gets_that_clusters_settings(client):
    cluster_id = client.clusters.create(
        cluster_name="shared-dev",
        spark_version="17.3.x-scala2.13",
        num_workers=1,
        spark_env_vars={"TEAM": "analytics"},
    ).response.cluster_id
    report = _output(client, _submit_report(client, {"existing_cluster_id": cluster_id}))
    assert report["env"]["TEAM"] == "analytics"
    assert report["env"]["DATABRICKS_RUNTIME_VERSION"] == "17.3"
