"""The whole DAG bundle imports cleanly in every environment and follows the house rules."""

import pytest

ENVIRONMENTS = ["local", "test", "prod"]
EXPECTED_DAGS = {
    "dbt_daily_build",
    "dbt_daily_models",
    "generic_xcom_handoff",
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
        assert dag.timetable.can_be_scheduled, f"{dag.dag_id} needs a schedule"
        assert dag.default_args["owner"] == "data-platform", dag.dag_id
        for task in dag.tasks:
            assert task.owner == "data-platform", task.task_id
            assert task.retry_exponential_backoff == 2.0, task.task_id


def test_retries_follow_environment_except_workflow_launch(dag_bag):
    for env_name, retries in [("local", 1), ("prod", 3)]:
        for dag in dag_bag(env_name).dags.values():
            for task in dag.tasks:
                expected = 0 if task.task_id.endswith(".launch") else retries
                assert task.retries == expected, (env_name, dag.dag_id, task.task_id)


def test_databricks_waiting_is_deferrable(dag_bag):
    for dag in dag_bag("prod").dags.values():
        for task in dag.tasks:
            if task.task_type.startswith("Databricks"):
                assert task.deferrable is True, task.task_id


def test_failure_alerts_only_where_configured(dag_bag):
    local = dag_bag("local").dags["notebook_orders_ingest"].get_task("ingest_raw")
    assert not local.on_failure_callback
    prod = dag_bag("prod").dags["notebook_orders_ingest"].get_task("ingest_raw")
    assert [type(n).__name__ for n in prod.on_failure_callback] == ["SlackNotifier"]
