"""The manifest renderer on the project's real manifest: task ids, wiring and the job it creates.

tests/dbt/fixtures/manifest.json is what `python -m dbt_runner.manifest --slim` writes for
dbt/runner/dbt_runner/project (dbt lives in another resolve than Airflow); tests/dbt checks it is
up to date.
"""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from airflow.sdk import DAG
from airflow.serialization.serialized_objects import DagSerialization
from conftest import render as render_jobs
from conftest import synthetic_manifest, workflow_config

from dataplatform import dbt_manifest
from dataplatform.dbt_graph import load_graph, selector_tags
from dataplatform.dbt_jobs import JobLimits
from dataplatform.dbt_manifest import dbt_workflow

MANIFEST = Path(__file__).resolve().parents[1] / "dbt" / "fixtures" / "manifest.json"
CLUSTER = {"job_cluster_key": "main", "new_cluster": {"spark_version": "16.4.x-scala2.12"}}
WHEEL = "/Volumes/main/dataplatform/wheels/dbt_runner-0.1.0-py3-none-any.whl"


def config(**overrides):
    return workflow_config(job_clusters=[CLUSTER], **overrides)


def render(**overrides) -> DAG:
    with DAG(
        dag_id="dbt_models", schedule=None, start_date=datetime(2025, 1, 1, tzinfo=UTC)
    ) as dag:
        dbt_workflow(MANIFEST, config(**overrides))
    return dag


def upstream(dag: DAG, task_id: str) -> set[str]:
    return set(dag.get_task(f"dbt.{task_id}").upstream_task_ids)


def test_one_task_per_model_and_seed_wired_by_depends_on():
    dag = render()

    assert set(dag.task_ids) == {
        "dbt.launch",
        "dbt.source_tests",
        "dbt.order_statuses",
        "dbt.stg_raw__orders",
        "dbt.stg_raw__customers",
        "dbt.stg_raw__payments",
        "dbt.orders",
        "dbt.customers",
        "dbt.monthly_revenue",
    }
    assert upstream(dag, "source_tests") == {"dbt.launch"}
    assert upstream(dag, "stg_raw__customers") == {"dbt.launch", "dbt.source_tests"}
    # orders reads both staging models and the seed; its relationships test also needs customers.
    assert upstream(dag, "orders") == {
        "dbt.launch",
        "dbt.stg_raw__orders",
        "dbt.stg_raw__payments",
        "dbt.order_statuses",
        "dbt.stg_raw__customers",
    }
    assert upstream(dag, "customers") == {"dbt.launch", "dbt.stg_raw__customers", "dbt.orders"}
    assert upstream(dag, "monthly_revenue") == {"dbt.launch", "dbt.orders"}


def test_model_task_builds_the_model_with_its_tests_on_the_shared_cluster():
    dag = render()
    task = dag.get_task("dbt.stg_raw__payments")

    assert task.job_cluster_key == "main"
    assert task.databricks_conn_id == "databricks_test"
    assert task.task_config == {
        "python_wheel_task": {
            "package_name": "dbt_runner",
            "entry_point": "dbt-runner",
            "parameters": [
                "build",
                "--select",
                "stg_raw__payments",
                "relationships_stg_raw__payments_order_id__order_id__ref_stg_raw__orders_",
                "--indirect-selection",
                "cautious",
                "--target",
                "test",
            ],
        },
        "libraries": [{"whl": WHEEL}],
    }
    # The test selected by name joins stg_raw__orders, so that table must exist first.
    assert "dbt.stg_raw__orders" in upstream(dag, "stg_raw__payments")
    source_tests = dag.get_task("dbt.source_tests").task_config["python_wheel_task"]
    assert source_tests["parameters"][:2] == ["test", "--select"]
    assert "source_unique_raw_orders_order_id" in source_tests["parameters"]


def test_the_group_is_one_job_on_one_job_cluster():
    dag = render()
    launch = dag.get_task("dbt.launch")
    job = launch.create_workflow_json()

    assert {task.retries for task in dag.tasks} == {0}  # re-run by repairing the job run
    assert job["name"] == "test.dbt_models.dbt"
    assert job["timeout_seconds"] == 3600
    assert job["job_clusters"] == [CLUSTER]
    assert len(job["tasks"]) == 8
    assert {t["job_cluster_key"] for t in job["tasks"]} == {"main"}
    keys = {dag.get_task(t).databricks_task_key: t for t in dag.task_ids if t != "dbt.launch"}
    orders = next(t for t in job["tasks"] if keys[t["task_key"]] == "dbt.orders")
    assert {keys[d["task_key"]] for d in orders["depends_on"]} == {
        "dbt.stg_raw__orders",
        "dbt.stg_raw__payments",
        "dbt.order_statuses",
        "dbt.stg_raw__customers",
    }


def test_select_tags_keeps_only_tagged_nodes():
    monthly = render(select_tags=("monthly",))
    assert set(monthly.task_ids) == {"dbt.launch", "dbt.monthly_revenue"}
    assert upstream(monthly, "monthly_revenue") == {"dbt.launch"}

    daily = load_graph(MANIFEST, select_tags=("daily",))
    assert "monthly_revenue" not in {node.name for node in daily.nodes}
    assert daily.source_tests


def test_ephemeral_models_are_skipped_but_keep_the_wiring(tmp_path):
    manifest = json.loads(MANIFEST.read_text())
    customers = manifest["nodes"]["model.dataplatform.customers"]
    customers["config"]["materialized"] = "ephemeral"
    manifest["nodes"]["model.dataplatform.monthly_revenue"]["depends_on"]["nodes"] = [
        "model.dataplatform.customers"
    ]
    customers["tags"] = []  # not selected by tag either way
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))

    graph = load_graph(path, select_tags=("daily", "monthly"))
    by_name = {node.name: node for node in graph.nodes}
    assert "customers" not in by_name
    assert set(by_name["monthly_revenue"].upstream) == {
        "model.dataplatform.stg_raw__customers",
        "model.dataplatform.orders",
    }


def test_unreadable_manifest_names_the_file_and_the_fix(tmp_path):
    missing = tmp_path / "manifest.json"
    with pytest.raises(ValueError, match=r"manifest.json.*python -m dbt_runner.manifest"):
        load_graph(missing)


def test_selector_from_config_becomes_tags_or_is_refused():
    assert selector_tags("tag:daily") == ("daily",)
    assert selector_tags("tag:daily tag:monthly") == ("daily", "monthly")
    for unsupported in ("", "orders+", "tag:", "path:models/marts"):
        with pytest.raises(ValueError, match="not supported by the manifest renderer"):
            selector_tags(unsupported)


def test_split_jobs_are_chained_as_airflow_chains_task_groups(tmp_path, monkeypatch):
    """The renderer chains the jobs' task groups itself (``>>`` is quadratic in the models);
    the DAG must be the one ``upstream_group >> group`` makes, edge for edge."""
    manifest = synthetic_manifest(tmp_path, 120)
    limits = JobLimits(max_tasks_per_job=30, parallel_tasks_per_cluster=4)
    ours, jobs = render_jobs(manifest, limits)
    monkeypatch.setattr(dbt_manifest, "_set_upstream_group", lambda group, up: up >> group)
    airflows, _ = render_jobs(manifest, limits)

    assert len(jobs) >= 4 and any(len(job.upstream_task_ids) > 1 for job in jobs)
    for task in airflows.tasks:
        twin = ours.get_task(task.task_id)
        assert (twin.upstream_task_ids, twin.downstream_task_ids) == (
            task.upstream_task_ids,
            task.downstream_task_ids,
        ), task.task_id
    assert DagSerialization.to_dict(ours) == DagSerialization.to_dict(airflows)
