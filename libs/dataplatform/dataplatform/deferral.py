"""Deferred Databricks tasks resume no sooner than a set time after they deferred.

Airflow 3.3.1 (MWAA's newest runtime) fails a resumed deferrable task when the worker's report
that the deferring try ended reaches the scheduler after the resumed try started running
(apache/airflow#72716, open): the scheduler takes the late report for a task killed from outside.
The provider's trigger polls the moment it starts, so a Databricks run that ends within seconds of
its task deferring resumes the task before that report has come in. On the local stack, where
runs take seconds, that cost ingest an extra try and failed dbt model tasks, which have no Airflow
retries; on MWAA it can hit any short task. Holding the trigger's event until
``min_deferral_seconds`` after the deferral gives the report time to arrive. A run that ends later
than that is not delayed at all.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from airflow.providers.databricks.operators.databricks import (
    DatabricksNotebookOperator,
    DatabricksTaskOperator,
)
from airflow.providers.databricks.triggers.databricks import DatabricksExecutionTrigger
from airflow.sdk import BaseOperator


class MinDeferralTrigger(DatabricksExecutionTrigger):
    """The provider's ``DatabricksExecutionTrigger``, whose event waits until ``not_before``
    (an ISO-8601 UTC time)."""

    def __init__(self, *, not_before: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.not_before = not_before

    @classmethod
    def holding(cls, trigger: DatabricksExecutionTrigger, seconds: float) -> MinDeferralTrigger:
        """``trigger``, its event held until ``seconds`` from now."""
        not_before = datetime.now(UTC) + timedelta(seconds=seconds)
        return cls(**trigger.serialize()[1], not_before=not_before.isoformat())

    def serialize(self) -> tuple[str, dict[str, Any]]:
        _, kwargs = super().serialize()
        return f"{__name__}.{type(self).__qualname__}", {**kwargs, "not_before": self.not_before}

    async def run(self):
        events = super().run()
        try:  # the provider's trigger yields one event; its connection closes before the wait
            event = await anext(events)
        finally:
            await events.aclose()
        wait = (datetime.fromisoformat(self.not_before) - datetime.now(UTC)).total_seconds()
        if wait > 0:
            self.log.info("run %s ended; resuming the task in %.1f s", self.run_id, wait)
            await asyncio.sleep(wait)
        yield event


class MinDeferral(BaseOperator):
    """Operator mixin: a deferral to the provider's run trigger waits at least
    ``min_deferral_seconds`` (the environment's ``databricks.min_deferral_seconds``). A
    ``BaseOperator`` so that Airflow applies its argument handling to this ``__init__`` too."""

    def __init__(self, *, min_deferral_seconds: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.min_deferral_seconds = min_deferral_seconds

    def defer(self, *, trigger: Any, method_name: str, **kwargs: Any) -> NoReturn:
        if type(trigger) is DatabricksExecutionTrigger:
            trigger = MinDeferralTrigger.holding(trigger, self.min_deferral_seconds)
        super().defer(trigger=trigger, method_name=method_name, **kwargs)


class WorkflowNotebookOperator(MinDeferral, DatabricksNotebookOperator):
    """``DatabricksNotebookOperator`` with ``MinDeferral``: a notebook task of a workflow group."""


class WorkflowTaskOperator(MinDeferral, DatabricksTaskOperator):
    """``DatabricksTaskOperator`` with ``MinDeferral``: a dbt model task of a workflow group."""
