"""Rendered Databricks payloads per environment: clusters, names, tables, dates, retry tokens."""

import re
import uuid
from datetime import UTC, datetime

import pytest
from conftest import DBT_RUNNER_WHEEL

from dataplatform.clusters import dbt_cluster, new_cluster
from dataplatform.config import environment_names, load_environment
from dataplatform.deferral import MinDeferral

ENVIRONMENTS = ["local", "test", "prod"]
RUN_AFTER = datetime(2025, 3, 15, 2, 7, tzinfo=UTC)
SINGLE_NODE_CONF = {"spark.databricks.cluster.profile": "singleNode", "spark.master": "local[*]"}


def table_params(env):
    uc = env.unity_catalog
    return {"catalog": uc.catalog, "raw_schema": uc.raw_schema, "curated_schema": uc.curated_schema}


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_notebook_ingest_payload(dag_bag, render, env_name):
    env = load_environment(env_name)
    task = dag_bag(env_name).dags["notebook_orders_ingest"].get_task("ingest_raw")
    json = render(task).json
    assert task.databricks_conn_id == env.databricks.conn_id
    assert json["run_name"] == f"{env_name}.notebook_orders_ingest.ingest_raw"
    assert json["new_cluster"] == new_cluster(env)
    assert json["timeout_seconds"] == env.timeouts.run_seconds
    assert json["notebook_task"] == {
        "notebook_path": f"{env.databricks.notebook_dir}/ingest_raw",
        "source": "WORKSPACE",
        "base_parameters": {
            "run_date": "2025-03-14",
            "run_id": "scheduled__2025-03-14T02:00:00+00:00",
            **table_params(env),
        },
    }
    assert len(json["idempotency_token"]) <= 64
    assert [a.name for a in task.outlets] == [
        f"{env.unity_catalog.catalog}.raw.{t}" for t in ("customers", "orders", "payments")
    ]


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_dbt_runner_runs_on_a_single_node_cluster_with_warehouse_secrets(
    dag_bag, render, env_name
):
    env = load_environment(env_name)
    json = render(dag_bag(env_name).dags["dbt_daily_build"].get_task("dbt_build")).json
    assert json["python_wheel_task"] == {
        "package_name": "dbt_runner",
        "entry_point": "dbt-runner",
        "parameters": ["build", "--select", env.dbt.select, "--target", env.dbt.target],
    }
    assert json["libraries"] == [{"whl": f"{env.databricks.wheel_dir}/{DBT_RUNNER_WHEEL}"}]
    cluster = json["new_cluster"]
    assert cluster["num_workers"] == 0 and "autoscale" not in cluster
    assert cluster["spark_conf"] == {**new_cluster(env)["spark_conf"], **SINGLE_NODE_CONF}
    assert cluster["custom_tags"]["ResourceClass"] == "SingleNode"
    assert cluster["custom_tags"]["environment"] == env_name
    env_vars = cluster["spark_env_vars"]
    assert env_vars["DBT_CATALOG"] == env.unity_catalog.catalog
    scope = env.dbt.credentials.scope
    # Rendered to literal secret references: Databricks resolves them, Airflow never sees values.
    # local reads a token (the emulator's), test and prod a service principal's OAuth client.
    auth = (
        {"DATABRICKS_TOKEN": f"{{{{secrets/{scope}/token}}}}"}
        if env_name == "local"
        else {
            "DATABRICKS_CLIENT_ID": f"{{{{secrets/{scope}/client-id}}}}",
            "DATABRICKS_CLIENT_SECRET": f"{{{{secrets/{scope}/client-secret}}}}",
        }
    )
    assert env_vars == {
        "DBT_CATALOG": env.unity_catalog.catalog,
        "DATABRICKS_HOST": f"{{{{secrets/{scope}/host}}}}",
        "DATABRICKS_HTTP_PATH": f"{{{{secrets/{scope}/http-path}}}}",
        **auth,
    }


def test_idempotency_token_differs_per_try_so_a_failed_run_is_not_returned_again(
    dag_bag, render
):
    task = dag_bag("prod").dags["notebook_orders_ingest"].get_task("ingest_raw")

    def token(**kwargs):
        return render(task, **kwargs).json["idempotency_token"]

    # The token is Airflow's id of the try: the same try (a worker rendering it again) gives the
    # same token; a retry, a clear, or the DAG run deleted and created again under its run_id
    # (its task back at try 1, as Airflow's backfill may do) gets a new id, hence a fresh run.
    this_try, another = uuid.uuid4(), uuid.uuid4()
    first = token(ti_id=this_try)
    assert first == str(this_try) and len(first) <= 64
    assert token(try_number=1, ti_id=another) != first


def test_submit_runs_are_durable_and_deferrable(dag_bag):
    submits = [("notebook_orders_ingest", "ingest_raw"), ("dbt_daily_build", "dbt_build")]
    for dag_id, task_id in submits:
        task = dag_bag("prod").dags[dag_id].get_task(task_id)
        assert task.durable is True and task.deferrable is True, task_id
        assert type(task).__name__ == "DurableSubmitRunOperator"


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_runs_without_a_logical_date_render_the_day_they_were_queued(dag_bag, render, env_name):
    bag = dag_bag(env_name)
    ingest = render(
        bag.dags["notebook_orders_ingest"].get_task("ingest_raw"),
        logical_date=None,
        run_after=RUN_AFTER,
        run_id="asset_triggered__2025-03-15T02:07:00+00:00",
    )
    assert ingest.json["notebook_task"]["base_parameters"]["run_date"] == "2025-03-15"
    launch = render(
        bag.dags["workflow_orders_daily"].get_task("orders_job.launch"),
        logical_date=None,
        run_after=RUN_AFTER,
    )
    assert launch.notebook_params["run_date"] == "2025-03-15"
    dbt = render(bag.dags["dbt_daily_build"].get_task("dbt_build"), logical_date=None)
    assert dbt.json["python_wheel_task"]["parameters"][0] == "build"


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_workflow_is_one_job_on_one_cluster(dag_bag, render, env_name):
    env = load_environment(env_name)
    dag = dag_bag(env_name).dags["workflow_orders_daily"]
    launch = render(dag.get_task("orders_job.launch"))
    assert launch.notebook_params == {
        "run_date": "2025-03-14",
        "run_id": "scheduled__2025-03-14T02:00:00+00:00",
        **table_params(env),
    }
    assert launch.job_name == f"{env_name}.workflow_orders_daily.orders_job"
    job = launch.create_workflow_json()
    assert job["name"] == launch.job_name
    assert job["timeout_seconds"] == env.timeouts.run_seconds
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
def test_dbt_models_are_one_job_with_a_task_per_selected_model(dag_bag, render, env_name):
    env = load_environment(env_name)
    dag = dag_bag(env_name).dags["dbt_daily_models"]
    launch = render(dag.get_task("dbt.launch"))
    job = launch.create_workflow_json()
    assert job["name"] == f"{env_name}.dbt_daily_models.dbt"
    (cluster,) = job["job_clusters"]
    assert cluster["new_cluster"]["num_workers"] == 0
    assert cluster["new_cluster"]["spark_env_vars"]["DBT_CATALOG"] == env.unity_catalog.catalog
    assert set(cluster["new_cluster"]) == set(dbt_cluster(env))
    tasks = {t["task_key"]: t for t in job["tasks"]}
    selected = {t["python_wheel_task"]["parameters"][2] for t in tasks.values()
                if t["python_wheel_task"]["parameters"][0] == "build"}
    # tag:daily of the dbt project: the seed, the staging models and two marts, not monthly.
    assert {"order_statuses", "stg_raw__orders", "orders", "customers"} <= selected
    assert "monthly_revenue" not in selected
    for task in tasks.values():
        assert task["job_cluster_key"] == "main"
        assert task["libraries"] == [{"whl": f"{env.databricks.wheel_dir}/{DBT_RUNNER_WHEEL}"}]
        assert task["python_wheel_task"]["parameters"][-2:] == ["--target", env.dbt.target]
    model_of = {key: t["python_wheel_task"]["parameters"][2] for key, t in tasks.items()}
    orders = next(t for t in tasks.values() if t["python_wheel_task"]["parameters"][2] == "orders")
    assert "stg_raw__orders" in {model_of[d["task_key"]] for d in orders["depends_on"]}


def _databricks_payloads(bag, render):
    """Every Databricks payload the bundle sends: submit JSON and workflow job specs."""
    for dag in bag.dags.values():
        for task in dag.tasks:
            if hasattr(task, "create_workflow_json"):
                launch = render(task)
                yield dag.dag_id, launch.create_workflow_json(), launch.notebook_params
            elif type(task).__name__ == "DurableSubmitRunOperator":
                yield dag.dag_id, render(task).json, {}


def test_every_environment_has_its_own_job_names_and_three_level_tables(dag_bag, render):
    names_by_env, catalogs = {}, {}
    for env_name in environment_names():
        env = load_environment(env_name)
        names, catalog_refs = set(), set()
        for dag_id, payload, run_params in _databricks_payloads(dag_bag(env_name), render):
            name = payload.get("run_name") or payload["name"]
            assert name.startswith(f"{env_name}.{dag_id}."), name
            names.add(name)
            params = {**run_params, **payload.get("notebook_task", {}).get("base_parameters", {})}
            for task in payload.get("tasks", []):
                params.update(task.get("notebook_task", {}).get("base_parameters", {}))
            if "catalog" in params:
                catalog_refs.add(params["catalog"])
            clusters = [payload.get("new_cluster")] + [
                c["new_cluster"] for c in payload.get("job_clusters", [])
            ]
            for cluster in filter(None, clusters):
                if "DBT_CATALOG" in cluster.get("spark_env_vars", {}):
                    catalog_refs.add(cluster["spark_env_vars"]["DBT_CATALOG"])
        assert catalog_refs == {env.unity_catalog.catalog}, env_name
        names_by_env[env_name], catalogs[env_name] = names, env.unity_catalog.catalog
    assert len(set(catalogs.values())) == len(catalogs), f"environments share a catalog: {catalogs}"
    for env_name, names in names_by_env.items():
        for other, other_names in names_by_env.items():
            if other != env_name:
                assert not names & other_names, (env_name, other, names & other_names)


# A table name as a string literal of a Spark call: "schema.table" (two-level) is refused.
TWO_LEVEL_TABLE = re.compile(
    r"""(table|saveAsTable|tableExists)\(\s*f?["'][A-Za-z_]+\.[A-Za-z_]+["']"""
)


def test_notebooks_name_tables_by_catalog_from_widgets():
    from conftest import REPO

    for notebook in sorted((REPO / "notebooks").glob("*.py")):
        source = notebook.read_text()
        assert not TWO_LEVEL_TABLE.search(source), f"{notebook.name}: two-level table name"
        if "spark.table(" in source or "saveAsTable(" in source:
            assert 'dbutils.widgets.text("catalog"' in source, notebook.name


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_every_deferrable_task_resumes_no_sooner_than_the_environment_minimum(dag_bag, env_name):
    minimum = load_environment(env_name).databricks.min_deferral_seconds
    deferrable = [task for dag in dag_bag(env_name).dags.values() for task in dag.tasks
                  if getattr(task, "deferrable", False)]
    assert {type(task).__name__ for task in deferrable} >= {
        "DurableSubmitRunOperator", "DurableRunNowOperator", "WorkflowNotebookOperator",
        "WorkflowTaskOperator"}
    for task in deferrable:
        assert isinstance(task, MinDeferral), f"{task.dag_id}.{task.task_id} ({type(task)})"
        assert task.min_deferral_seconds == minimum, f"{task.dag_id}.{task.task_id}"
