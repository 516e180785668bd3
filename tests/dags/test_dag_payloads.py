"""Rendered Databricks payloads per environment: cluster, paths, parameters, idempotency token."""

import pytest

from dataplatform.clusters import new_cluster
from dataplatform.config import load_environment

ENVIRONMENTS = ["local", "test", "prod"]


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_notebook_ingest_payload(dag_bag, render, env_name):
    env = load_environment(env_name)
    task = dag_bag(env_name).dags["notebook_orders_ingest"].get_task("ingest_raw")
    json = render(task).json
    assert task.databricks_conn_id == env.databricks.conn_id
    assert json["run_name"] == "notebook_orders_ingest.ingest_raw"
    assert json["new_cluster"] == new_cluster(env)
    assert json["notebook_task"] == {
        "notebook_path": f"{env.databricks.notebook_dir}/ingest_raw",
        "source": "WORKSPACE",
        "base_parameters": {
            "logical_date": "2025-03-14",
            "run_id": "scheduled__2025-03-14T02:00:00+00:00",
        },
    }
    assert len(json["idempotency_token"]) <= 64


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_dbt_runner_payload(dag_bag, render, env_name):
    env = load_environment(env_name)
    json = render(dag_bag(env_name).dags["dbt_daily_build"].get_task("dbt_build")).json
    assert json["python_wheel_task"] == {
        "package_name": "dbt_runner",
        "entry_point": "dbt-runner",
        "parameters": ["build", "--select", "tag:daily", "--target", env.dbt.target],
    }
    assert json["libraries"] == [{"whl": f"{env.databricks.wheel_dir}/{env.dbt.runner_wheel}"}]
    assert json["new_cluster"]["custom_tags"]["environment"] == env_name


def test_idempotency_token_is_stable_across_retries_only(dag_bag, render):
    task = dag_bag("prod").dags["notebook_orders_ingest"].get_task("ingest_raw")

    def token(**kwargs):
        return render(task, **kwargs).json["idempotency_token"]

    first = token(try_number=1)
    assert token(try_number=2) == first
    assert token(run_id="manual__2025-03-14T09:00:00+00:00") != first
    assert token(clear_number=1) != first
    other = dag_bag("prod").dags["dbt_daily_build"].get_task("dbt_build")
    assert render(other).json["idempotency_token"] != first


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_workflow_is_one_job_on_one_cluster(dag_bag, render, env_name):
    env = load_environment(env_name)
    dag = dag_bag(env_name).dags["workflow_orders_daily"]
    launch = render(dag.get_task("orders_job.launch"))
    assert launch.notebook_params == {
        "logical_date": "2025-03-14",
        "run_id": "scheduled__2025-03-14T02:00:00+00:00",
    }
    job = launch.create_workflow_json()
    assert job["name"] == "workflow_orders_daily.orders_job"
    assert job["job_clusters"] == [{"job_cluster_key": "main", "new_cluster": new_cluster(env)}]
    assert job["tags"] == dict(env.cluster.tags)
    tasks = {t["notebook_task"]["notebook_path"].rsplit("/", 1)[1]: t for t in job["tasks"]}
    assert set(tasks) == {"check_raw", "transform_daily"}
    for task in tasks.values():
        assert task["job_cluster_key"] == "main"
        assert task["notebook_task"]["notebook_path"].startswith(env.databricks.notebook_dir)
    assert tasks["transform_daily"]["depends_on"] == [{"task_key": tasks["check_raw"]["task_key"]}]
    assert tasks["check_raw"]["depends_on"] == []


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_dbt_models_are_one_job_with_a_task_per_daily_model(dag_bag, render, env_name):
    env = load_environment(env_name)
    dag = dag_bag(env_name).dags["dbt_daily_models"]
    job = render(dag.get_task("dbt.launch")).create_workflow_json()
    assert job["job_clusters"] == [{"job_cluster_key": "main", "new_cluster": new_cluster(env)}]
    tasks = {t["task_key"]: t for t in job["tasks"]}
    selected = {t["python_wheel_task"]["parameters"][2] for t in tasks.values()
                if t["python_wheel_task"]["parameters"][0] == "build"}
    # tag:daily of the dbt project: the seed, the staging models and two marts, not monthly.
    assert {"order_statuses", "stg_raw__orders", "orders", "customers"} <= selected
    assert "monthly_revenue" not in selected
    for task in tasks.values():
        assert task["job_cluster_key"] == "main"
        assert task["libraries"] == [{"whl": f"{env.databricks.wheel_dir}/{env.dbt.runner_wheel}"}]
        assert task["python_wheel_task"]["parameters"][-2:] == ["--target", env.dbt.target]
    model_of = {key: t["python_wheel_task"]["parameters"][2] for key, t in tasks.items()}
    orders = next(t for t in tasks.values() if t["python_wheel_task"]["parameters"][2] == "orders")
    assert "stg_raw__orders" in {model_of[d["task_key"]] for d in orders["depends_on"]}
