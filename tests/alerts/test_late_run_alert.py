"""A late DAG run alerts the environment's targets, through the real services: the
dag-processor serializes the DAG's deadline, the scheduler creates the run with its deadline and
finds it missed, the triggerer runs the callback, whose SMTP notifier mails the test's sink."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from local_stack.airflow_api import wait_until
from local_stack.stack import RunningStack, StackConfig, local_stack
from support.airflow_stack import artifact
from support.smtp_sink import SmtpSink

DAGS = Path(__file__).resolve().parent / "dags"
DAG_ID = "late_run"  # dags/late_run.py: deadline 5 s after queued, mail to oncall@example.com


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


@pytest.fixture(scope="module")
def release_file(tmp_path_factory) -> Path:
    """The late DAG's task runs until this file exists."""
    return tmp_path_factory.mktemp("late-run") / "release"


@pytest.fixture(scope="module")
def stack(sink, release_file, tmp_path_factory) -> Iterator[RunningStack]:
    smtp = {"conn_type": "smtp", "host": "127.0.0.1", "port": sink.port,
            "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "airflow@localhost"}}
    config = StackConfig(
        emulator_pex=artifact("libs.local_databricks/emulator.pex"),
        state_dir=tmp_path_factory.mktemp("alerts-stack"),
        dags_folder=DAGS,
        env={"AIRFLOW_CONN_SMTP_SINK": json.dumps(smtp),
             "LATE_RUN_RELEASE_FILE": str(release_file)},
    )  # fmt: skip
    with local_stack(config) as running:
        running.wait_for_dags([DAG_ID])
        yield running


def mailed_time(body: str, label: str) -> datetime:
    match = re.search(rf"^{label}: ([^<\n]+)", body, re.MULTILINE)
    assert match, f"no {label!r} line in the alert:\n{body}"
    return datetime.fromisoformat(match[1].strip())


def test_a_late_run_alerts_the_targets_once_and_runs_on(stack, sink, release_file):
    api = stack.api
    api.set_paused(DAG_ID, False)  # the scheduler creates the latest daily run
    (run,) = wait_until(lambda: api.dag_runs(DAG_ID), 120, f"the scheduler to start {DAG_ID}")
    assert run["run_type"] == "scheduled"

    alert = sink.wait_for_message(f"Airflow DAG run late: {DAG_ID}", timeout=240)
    assert alert["To"] == "oncall@example.com"
    body = alert.get_body(("html", "plain")).get_content()
    assert f"Run: {run['dag_run_id']}" in body
    # The deadline is the configured late_run_seconds after the run was queued.
    queued_at = datetime.fromisoformat(run["queued_at"])
    assert mailed_time(body, "Queued at") == queued_at
    assert mailed_time(body, "Deadline") - queued_at == timedelta(seconds=5)

    # The alert does not stop the run: it ends when its task does, and no second alert follows.
    assert api.dag_run(DAG_ID, run["dag_run_id"])["state"] == "running"
    release_file.touch()
    assert api.wait_for_run(DAG_ID, run["dag_run_id"], timeout=120)["state"] == "success"
    late_alerts = [m for m in sink.messages if "DAG run late" in str(m["Subject"])]
    assert len(late_alerts) == 1
