"""Every project DAG declares its late-run deadline from the environment's config."""

from datetime import timedelta

import pytest
from dataplatform import load_environment

ENVIRONMENTS = ["local", "test", "prod"]


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_every_dag_declares_the_environment_late_run_deadline(dag_bag, env_name):
    from airflow.sdk import DeadlineReference

    alerts = load_environment(env_name).alerts
    dags = dag_bag(env_name).dags
    assert dags
    for dag in dags.values():
        (deadline,) = dag.deadline
        assert deadline.reference == DeadlineReference.DAGRUN_QUEUED_AT, dag.dag_id
        assert deadline.interval == timedelta(seconds=alerts.late_run_seconds), dag.dag_id
        assert deadline.callback.path == "dataplatform.callbacks.alert_late_run", dag.dag_id
        # The targets travel with the callback: the triggerer needs no environment lookup.
        assert deadline.callback.kwargs == {"alerts": alerts.model_dump(mode="json")}

