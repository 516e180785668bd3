"""Default task arguments and failure alerts, sent only where the environment names a target."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dataplatform.config import Environment

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


def failure_notifiers(env: Environment) -> list[Any]:
    """Provider notifiers for the environment's alert targets (empty list: no alerts)."""
    alerts = env.alerts
    notifiers: list[Any] = []
    if alerts.slack_conn_id:
        from airflow.providers.slack.notifications.slack import SlackNotifier

        notifiers.append(
            SlackNotifier(
                slack_conn_id=alerts.slack_conn_id, channel=alerts.slack_channel, text=ALERT_TEXT
            )
        )
    if alerts.email:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        notifiers.append(
            SmtpNotifier(
                to=list(alerts.email),
                smtp_conn_id=alerts.smtp_conn_id,
                subject=ALERT_SUBJECT,
                html_content=f"<pre>{ALERT_TEXT}</pre>",
            )
        )
    return notifiers


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
