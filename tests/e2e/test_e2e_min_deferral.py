"""A deferred Databricks task resumes no sooner than ``min_deferral_seconds`` after it deferred
(dataplatform.deferral): the project's operators defer to a trigger that the triggerer can
rebuild, and whose event for a run that has already ended waits until then."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk.exceptions import TaskDeferred
from airflow.providers.databricks.hooks.databricks import RunState
from airflow.sdk.module_loading import import_string

MIN_DEFERRAL = 6


def first_event(trigger):
    """The first event of a trigger, as the triggerer runs it; with the time it came."""

    async def run():
        async for event in trigger.run():
            return event, datetime.now(UTC)
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(run())


def test_an_ended_run_resumes_its_task_no_sooner_than_the_minimum(stack, workspace, notebook):
    from conftest import wait_for_run

    from dataplatform.deferral import MinDeferralTrigger
    from dataplatform.operators import DurableSubmitRunOperator

    path = notebook("quick", 'dbutils.notebook.exit("done")')
    operator = DurableSubmitRunOperator(
        task_id="quick", databricks_conn_id="databricks_local", do_xcom_push=False,
        deferrable=True, polling_period_seconds=1, min_deferral_seconds=MIN_DEFERRAL,
        json={"run_name": "quick", "tasks": [
            {"task_key": "main", "notebook_task": {"notebook_path": path}}]},
    )  # fmt: skip
    before = datetime.now(UTC)
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context={})
    after = datetime.now(UTC)

    # The triggerer rebuilds the trigger from what it serialized, importing its classpath.
    classpath, kwargs = deferred.value.trigger.serialize()
    trigger = import_string(classpath)(**kwargs)
    assert isinstance(trigger, MinDeferralTrigger)
    not_before = datetime.fromisoformat(trigger.not_before)
    minimum = timedelta(seconds=MIN_DEFERRAL)
    assert before + minimum <= not_before <= after + minimum

    # Once the run has ended, the event still waits for not_before, here moved to 3 s ahead.
    wait_for_run(workspace, trigger.run_id)
    trigger.not_before = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
    event, came = first_event(trigger)
    assert came >= datetime.fromisoformat(trigger.not_before)
    assert event.payload["run_id"] == trigger.run_id
    assert RunState.from_json(event.payload["run_state"]).result_state == "SUCCESS"

