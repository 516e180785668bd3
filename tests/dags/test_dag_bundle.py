"""The whole DAG bundle imports cleanly in every environment and follows the house rules."""

import pytest

ENVIRONMENTS = ["local", "test", "prod"]
EXPECTED_DAGS = {
    "dbt_daily_build",
    "dbt_daily_models",
    "generic_xcom_handoff",
    "job_raw_checks",
    "notebook_orders_ingest",
    "workflow_orders_daily",
}


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_bundle_imports_without_errors(dag_bag, env_name):
    bag = dag_bag(env_name)
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == EXPECTED_DAGS
    assert len(bag.dag_ids) == len(set(bag.dag_ids))


def test_every_dag_is_configured_deliberately(dag_bag):
    for dag in dag_bag("local").dags.values():
        assert dag.tags, dag.dag_id
        assert dag.catchup is False, dag.dag_id
        assert dag.timetable.can_be_scheduled or dag.timetable.asset_condition is not None, (
            f"{dag.dag_id} needs a schedule"
        )
        assert dag.default_args["owner"] == "data-platform", dag.dag_id
        for task in dag.tasks:
            assert task.owner == "data-platform", task.task_id
            assert task.retry_exponential_backoff == 2.0, task.task_id


def test_retries_follow_environment_except_in_workflow_groups(dag_bag):
    # A workflow group's tasks are re-run by repairing the Databricks job run, not by retries.
    for env_name, retries in [("local", 1), ("prod", 3)]:
        for dag in dag_bag(env_name).dags.values():
            for task in dag.tasks:
                in_workflow = getattr(task.task_group, "is_databricks", False)
                expected = 0 if in_workflow else retries
                assert task.retries == expected, (env_name, dag.dag_id, task.task_id)


def test_every_task_has_the_environment_time_limit(dag_bag):
    for dag in dag_bag("prod").dags.values():
        for task in dag.tasks:
            assert task.execution_timeout.total_seconds() == 9000, task.task_id


def test_dags_are_chained_by_assets_not_by_the_clock(dag_bag):
    dags = dag_bag("prod").dags
    raw = {f"dataplatform.raw.{t}" for t in ("customers", "orders", "payments")}
    (ingest,) = dags["notebook_orders_ingest"].tasks
    assert {asset.name for asset in ingest.outlets} == raw
    for consumer in ("workflow_orders_daily", "dbt_daily_build", "job_raw_checks"):
        condition = dags[consumer].timetable.asset_condition
        assert type(condition).__name__ == "AssetAll", consumer  # every raw table
        assert {asset.name for asset in condition.objects} == raw, consumer
    (build,) = dags["dbt_daily_build"].tasks
    models = dags["dbt_daily_models"].timetable.asset_condition
    assert [a.name for a in models.objects] == [a.name for a in build.outlets]


def test_mwaa_without_dataplatform_env_fails_every_import(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag
    from conftest import DAGS_FOLDER

    monkeypatch.setenv("MWAA_AIRFLOW_COMPONENT", "scheduler")
    monkeypatch.delenv("DATAPLATFORM_ENV", raising=False)
    bag = DagBag(dag_folder=DAGS_FOLDER, bundle_path=DAGS_FOLDER)
    assert bag.dag_ids == []
    assert len(bag.import_errors) == len(EXPECTED_DAGS)
    for error in bag.import_errors.values():
        assert "DATAPLATFORM_ENV is not set on MWAA" in error


def test_databricks_waiting_is_deferrable(dag_bag):
    waiting = [
        task
        for dag in dag_bag("prod").dags.values()
        for task in dag.tasks
        if not task.task_id.endswith(".launch")  # the provider's launch polls (no deferral)
        and any(c.__module__.startswith("airflow.providers.databricks") for c in type(task).__mro__)
    ]
    assert len(waiting) > 10
    for task in waiting:
        assert task.deferrable is True, task.task_id


def test_failure_alerts_only_where_configured(dag_bag):
    local = dag_bag("local").dags["notebook_orders_ingest"].get_task("ingest_raw")
    assert not local.on_failure_callback
    prod = dag_bag("prod").dags["notebook_orders_ingest"].get_task("ingest_raw")
    assert [type(n).__name__ for n in prod.on_failure_callback] == ["SlackNotifier"]
