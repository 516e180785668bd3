"""Cluster specs, task payloads and default args built from each shipped environment."""

from datetime import timedelta

from airflow.providers.slack.notifications.slack import SlackNotifier
from airflow.providers.smtp.notifications.smtp import SmtpNotifier

from dataplatform.callbacks import ALERT_TEXT, default_args
from dataplatform.clusters import dbt_cluster, job_clusters, new_cluster
from dataplatform.config import load_environment
from dataplatform.tasks import dbt_runner_task, notebook_task, spark_python_task, wheel_library


def test_cluster_uses_pool_or_node_type_cost_tags_and_an_access_mode():
    prod = new_cluster(load_environment("prod"))
    assert prod == {
        "spark_version": "16.4.x-scala2.12",
        "autoscale": {"min_workers": 2, "max_workers": 8},
        "custom_tags": {"cost_center": "data-platform", "environment": "prod"},
        "spark_conf": {"spark.databricks.sql.initial.catalog.name": "dataplatform"},
        "node_type_id": "i3.xlarge",
        "policy_id": "0000000000000000",
        "data_security_mode": "SINGLE_USER",
        "single_user_name": "00000000-0000-0000-0000-000000000000",
    }
    test = new_cluster(load_environment("test"))
    assert test["instance_pool_id"] == "0000-000000-fillin-pool-00000000"
    assert "node_type_id" not in test
    local = new_cluster(load_environment("local"))
    assert local["data_security_mode"] == "USER_ISOLATION" and "single_user_name" not in local


def test_dbt_cluster_is_single_node_with_secret_references():
    cluster = dbt_cluster(load_environment("test"))
    assert cluster["num_workers"] == 0 and "autoscale" not in cluster
    assert cluster["custom_tags"]["ResourceClass"] == "SingleNode"
    # A Jinja string literal: the rendered payload carries the reference itself.
    assert cluster["spark_env_vars"]["DATABRICKS_HOST"] == (
        "{{ '{{secrets/dataplatform-test-dbt/host}}' }}"
    )
    assert dbt_cluster(load_environment("local"))["spark_env_vars"] == {
        "DBT_CATALOG": "hive_metastore",
        "DATABRICKS_HOST": "{{ '{{secrets/dataplatform-local-dbt/host}}' }}",
        "DATABRICKS_HTTP_PATH": "{{ '{{secrets/dataplatform-local-dbt/http-path}}' }}",
        "DATABRICKS_TOKEN": "{{ '{{secrets/dataplatform-local-dbt/token}}' }}",
    }
    assert cluster["spark_conf"] == {
        "spark.databricks.sql.initial.catalog.name": "dataplatform_test",
        "spark.databricks.cluster.profile": "singleNode",
        "spark.master": "local[*]",
    }


def test_cluster_overrides_and_job_clusters_are_fresh_dicts():
    env = load_environment("prod")
    assert new_cluster(env, num_workers=1)["num_workers"] == 1
    first, second = job_clusters(env), job_clusters(env)
    first[0]["new_cluster"]["custom_tags"]["x"] = "y"
    assert second[0] == {"job_cluster_key": "main", "new_cluster": new_cluster(env)}


def test_task_payloads_use_environment_paths():
    env = load_environment("test")
    task = notebook_task(env, "ingest_raw", {"extra": "1"})
    assert task == {
        "notebook_path": "/Workspace/Shared/dataplatform-test/notebooks/ingest_raw",
        "source": "WORKSPACE",
        "base_parameters": {
            "run_date": "{{ (dag_run.logical_date or dag_run.run_after).strftime('%Y-%m-%d') }}",
            "run_id": "{{ run_id }}",
            "catalog": "dataplatform_test",
            "raw_schema": "raw",
            "curated_schema": "curated",
            "extra": "1",
        },
    }
    assert spark_python_task(env, "jobs/compact.py", ["--days", "7"]) == {
        "python_file": "/Workspace/Shared/dataplatform-test/notebooks/jobs/compact.py",
        "parameters": ["--days", "7"],
    }
    assert dbt_runner_task(env, "build") == {
        "package_name": "dbt_runner",
        "entry_point": "dbt-runner",
        "parameters": ["build", "--target", "test"],
    }
    assert wheel_library(env, "x.whl") == {
        "whl": "/Volumes/test/dataplatform/artifacts/wheels/x.whl"
    }


def test_default_args_backoff_and_alert_targets():
    local = default_args(load_environment("local"))
    assert local["owner"] == "data-platform"
    assert local["retry_exponential_backoff"] == 2.0
    assert local["max_retry_delay"] == timedelta(seconds=60)
    assert local["execution_timeout"] == timedelta(seconds=2400)
    assert local["on_failure_callback"] == []

    (slack,) = default_args(load_environment("prod"))["on_failure_callback"]
    assert isinstance(slack, SlackNotifier)
    assert (slack.slack_conn_id, slack.channel, slack.text) == (
        "slack_data_alerts",
        "#data-platform-alerts",
        ALERT_TEXT,
    )
    (mail,) = default_args(load_environment("test"))["on_failure_callback"]
    assert isinstance(mail, SmtpNotifier)
    assert mail.to == ["data-platform-test@example.com"]
