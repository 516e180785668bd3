"""Default task arguments, failure alerts and late-run alerts, sent to the environment's alert
targets (Slack, email) where it names them."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

from dataplatform.config import Alerts, Environment

log = logging.getLogger(__name__)

ALERT_SUBJECT = "Airflow task failed: {{ dag.dag_id }}.{{ ti.task_id }}"

# Rendered by the notifier with the failed task's context. The Databricks operators push the
# run page URL to XCom as ``run_page_url`` before they wait for the run.
ALERT_TEXT = (
    "Airflow task failed ({{ ti.try_number }}. try).\n"
    "DAG: {{ dag.dag_id }}\n"
    "Task: {{ ti.task_id }}\n"
    "Run: {{ run_id }}\n"
    "Databricks run: {{ ti.xcom_pull(task_ids=ti.task_id, key='run_page_url') or 'none' }}"
)

# Rendered with the context a deadline callback gets: the run as the REST API shows it
# (``dag_run``) and the ``deadline`` it missed.
LATE_SUBJECT = "Airflow DAG run late: {{ dag_run.dag_id }}"
LATE_TEXT = (
    "Airflow DAG run not finished by its deadline (it goes on running).\n"
    "DAG: {{ dag_run.dag_id }}\n"
    "Run: {{ dag_run.dag_run_id }}\n"
    "Queued at: {{ dag_run.queued_at }}\n"
    "Deadline: {{ deadline.deadline_time }}"
)


def _notifiers(alerts: Alerts, subject: str, text: str, **notifier_args: Any) -> list[Any]:
    """Provider notifiers for the alert targets (empty list: none); ``notifier_args`` go to
    each notifier as they are (e.g. the ``context`` of a deadline callback)."""
    notifiers: list[Any] = []
    if alerts.slack_conn_id:
        from airflow.providers.slack.notifications.slack import SlackNotifier

        notifiers.append(
            SlackNotifier(
                slack_conn_id=alerts.slack_conn_id, channel=alerts.slack_channel, text=text,
                **notifier_args,
            )
        )
    if alerts.email:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        notifiers.append(
            SmtpNotifier(
                to=list(alerts.email),
                smtp_conn_id=alerts.smtp_conn_id,
                subject=subject,
                html_content=f"<pre>{text}</pre>",
                **notifier_args,
            )
        )
    return notifiers


def failure_notifiers(env: Environment) -> list[Any]:
    """Provider notifiers for the environment's alert targets (empty list: no alerts)."""
    return _notifiers(env.alerts, ALERT_SUBJECT, ALERT_TEXT)


async def alert_late_run(alerts: dict[str, Any], context: dict[str, Any]) -> None:
    """Deadline callback, run by the triggerer when a DAG run misses its deadline: log it and
    tell every alert target (their notifiers' async path). ``alerts`` is the environment's
    ``[alerts]`` table as JSON (callback arguments are stored in the metadata DB)."""
    run = context["dag_run"]
    log.warning(
        "DAG run late: %s %s, queued at %s, not finished by %s",
        run["dag_id"], run["dag_run_id"], run["queued_at"], context["deadline"]["deadline_time"],
    )  # fmt: skip
    notifiers = _notifiers(Alerts.model_validate(alerts), LATE_SUBJECT, LATE_TEXT, context=context)
    # A notifier holding a context is awaitable (it renders its templates, then async_notify).
    # Every target is tried even when one fails; the callback then fails naming the failures.
    results = await asyncio.gather(*notifiers, return_exceptions=True)
    failures = [f"{type(n).__name__}: {r}" for n, r in zip(notifiers, results, strict=True)
                if isinstance(r, BaseException)]
    if failures:
        raise RuntimeError(f"late-run alert not delivered: {'; '.join(failures)}")


def late_run_deadline(env: Environment) -> DeadlineAlert:
    """The DeadlineAlert every project DAG declares: a run still going ``late_run_seconds``
    after it was queued is late. Measured from ``queued_at``, which every run has (manual runs
    without a logical date, Asset-triggered runs and backfill runs included)."""
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(seconds=env.alerts.late_run_seconds),
        callback=AsyncCallback(
            alert_late_run, kwargs={"alerts": env.alerts.model_dump(mode="json")}
        ),
    )


def default_args(env: Environment) -> dict[str, Any]:
    """``default_args`` for every DAG: owner, retries with exponential backoff, a time limit per
    try (``timeouts.task_seconds``; deferred time counts), failure alerts."""
    owner = env.owner
    return {
        "owner": owner.name,
        "retries": owner.retries,
        "retry_delay": timedelta(seconds=owner.retry_delay_seconds),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(seconds=owner.max_retry_delay_seconds),
        "execution_timeout": timedelta(seconds=env.timeouts.task_seconds),
        "on_failure_callback": failure_notifiers(env),
    }
