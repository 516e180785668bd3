"""A DAG whose run outlasts its deadline: the project's DAG settings (`platform_dag`) on the
local environment, with a 5-second late-run deadline and email alerts to the connection
`smtp_sink` (the test's SMTP server). Its task waits until the file named by
LATE_RUN_RELEASE_FILE exists, so the test decides when the run may end."""

from airflow.providers.standard.operators.bash import BashOperator
from dataplatform import load_environment
from dataplatform.config import Alerts
from dataplatform.dags import platform_dag

ALERTS = Alerts(late_run_seconds=5, email=("oncall@example.com",), smtp_conn_id="smtp_sink")
env = load_environment("local").model_copy(update={"alerts": ALERTS})

with platform_dag("late_run", env, schedule="@daily", tags=["test"]):
    BashOperator(
        task_id="wait_for_release",
        bash_command='until [ -e "$LATE_RUN_RELEASE_FILE" ]; do sleep 1; done',
    )
