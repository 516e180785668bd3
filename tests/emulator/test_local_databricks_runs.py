"""Runs submitted through databricks-sdk really execute on Sail and keep Delta tables."""

from __future__ import annotations

import time

from conftest import notebook_task, upload_notebook, wait_done
from databricks.sdk.service import jobs

SLEEPER = "import time\ntime.sleep(120)\n"


def test_delta_table_written_by_one_run_is_read_by_the_next(client):
    upload_notebook(
        client,
        "/Users/dev/write_orders",
        """
dbutils.widgets.text("rows", "1")
rows = int(dbutils.widgets.get("rows"))
spark.sql("CREATE DATABASE IF NOT EXISTS bronze")
spark.range(rows).withColumnRenamed("id", "order_id").write.format("delta") \\
    .mode("overwrite").saveAsTable("bronze.orders")

# COMMAND ----------

# MAGIC %md Written.

# COMMAND ----------

# MAGIC %sql
# MAGIC INSERT INTO bronze.orders VALUES (1000)
""",
    )
    upload_notebook(
        client,
        "/Users/dev/read_orders",
        """
total = spark.sql("SELECT count(*) AS n, max(order_id) AS top FROM bronze.orders").first()
dbutils.notebook.exit(f"{total.n}:{total.top}")
""",
    )
    first = client.jobs.submit(
        run_name="write", tasks=[notebook_task("write", "/Users/dev/write_orders", rows="10")]
    ).response.run_id
    assert wait_done(client, first).state.result_state == jobs.RunResultState.SUCCESS

    second = client.jobs.submit(
        run_name="read", tasks=[notebook_task("read", "/Users/dev/read_orders")]
    ).response.run_id
    run = wait_done(client, second)
    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state.state_message
    output = client.jobs.get_run_output(run.tasks[0].run_id)
    assert output.notebook_output.result == "11:1000"


def test_failing_notebook_reports_error_and_traceback(client):
    upload_notebook(
        client,
        "/Users/dev/broken",
        """
def load():
    raise ValueError("source bucket is empty")

load()
""",
    )
    run_id = client.jobs.submit(
        run_name="broken", tasks=[notebook_task("broken", "/Users/dev/broken")]
    ).response.run_id
    run = wait_done(client, run_id)
    assert run.state.result_state == jobs.RunResultState.FAILED
    assert "source bucket is empty" in run.state.state_message
    output = client.jobs.get_run_output(run.tasks[0].run_id)
    assert output.error == "ValueError: source bucket is empty"
    assert "<notebook /Users/dev/broken cell 1>" in output.error_trace
    assert 'raise ValueError("source bucket is empty")' in output.error_trace


def test_cancel_kills_a_running_task(client):
    upload_notebook(client, "/Users/dev/sleeper", SLEEPER)
    run_id = client.jobs.submit(
        run_name="sleepy", tasks=[notebook_task("sleep", "/Users/dev/sleeper")]
    ).response.run_id
    deadline = time.monotonic() + 60
    while (
        client.jobs.get_run(run_id).tasks[0].state.life_cycle_state
        != jobs.RunLifeCycleState.RUNNING
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    started = time.monotonic()
    client.jobs.cancel_run(run_id)
    run = wait_done(client, run_id, timeout=30)
    assert run.state.result_state == jobs.RunResultState.CANCELED
    assert run.tasks[0].state.result_state == jobs.RunResultState.CANCELED
    assert time.monotonic() - started < 20


def test_timeout_seconds_ends_the_run_as_timed_out(client):
    upload_notebook(client, "/Users/dev/sleeper", SLEEPER)
    run_id = client.jobs.submit(
        run_name="slow", timeout_seconds=4, tasks=[notebook_task("sleep", "/Users/dev/sleeper")]
    ).response.run_id
    run = wait_done(client, run_id, timeout=60)
    assert run.state.result_state == jobs.RunResultState.TIMEDOUT
    assert run.end_time - run.start_time < 30_000
