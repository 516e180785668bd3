"""The jobs defined as code, per environment, and the DAG that runs one by name."""

import json
import uuid

import pytest

from dataplatform.clusters import new_cluster
from dataplatform.config import environment_names, load_environment
from dataplatform.jobs import job_definitions

ENVIRONMENTS = ["local", "test", "prod"]


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_jobs_are_built_from_the_environment_without_airflow_templates(env_name):
    env = load_environment(env_name)
    uc = env.unity_catalog
    for name, job in job_definitions(env).items():
        assert name == job["name"] and name.startswith(f"{env_name}."), name
        assert job["tags"]["managed_by"] == "dataplatform"
        assert job["tags"]["environment"] == env_name
        assert job["tags"]["cost_center"] == env.cluster.tags["cost_center"]
        assert job["timeout_seconds"] == env.timeouts.run_seconds
        assert [c["new_cluster"] for c in job["job_clusters"]] == [new_cluster(env)]
        for task in job["tasks"]:
            notebook = task["notebook_task"]
            assert notebook["notebook_path"].startswith(f"{env.databricks.notebook_dir}/")
            assert notebook["base_parameters"]["catalog"] == uc.catalog
        # Deployed once, run many times: nothing in a definition is rendered by Airflow.
        assert "{{" not in json.dumps(job), name


def test_no_two_environments_share_a_job_name():
    names = [name for env in environment_names() for name in job_definitions(load_environment(env))]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_the_dag_runs_the_deployed_job_by_name_with_a_token_per_try(dag_bag, render, env_name):
    task = dag_bag(env_name).dags["job_raw_checks"].get_task("raw_checks")
    assert type(task).__name__ == "DurableRunNowOperator"
    assert task.durable is True and task.deferrable is True
    this_try = uuid.uuid4()
    rendered = render(task, ti_id=this_try)
    assert rendered.job_name in job_definitions(load_environment(env_name))
    assert rendered.notebook_params["run_date"] == "2025-03-14"
    assert rendered.idempotency_token == str(this_try)  # Airflow's id of the try: one per try
