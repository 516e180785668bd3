"""The provider's DatabricksSQLStatementsOperator on the emulator's SQL warehouse."""

from __future__ import annotations

from datetime import UTC, datetime

from databricks.sdk.service.workspace import ImportFormat

WAREHOUSE_ID = "10ca1da7aba5e001"


def run_sql(workspace, statement: str):
    return workspace.statement_execution.execute_statement(statement, WAREHOUSE_ID)


def test_sql_statements_operator_writes_a_table(workspace, run_task):
    for statement in ("CREATE SCHEMA IF NOT EXISTS e2e_sql",
                      "CREATE OR REPLACE TABLE e2e_sql.loads (day DATE, n BIGINT) USING delta"):
        assert run_sql(workspace, statement).status.state.value == "SUCCEEDED"

    outcome = run_task("e2e_sql_statement")

    assert outcome.state == "success", outcome.output[-3000:]
    rows = run_sql(workspace, "SELECT day, n FROM e2e_sql.loads").result.data_array
    assert rows == [["2025-06-01", "3"]]  # the :day parameter, typed DATE


def test_failing_sql_statement_fails_the_task_with_the_sql_error(run_task):
    outcome = run_task("e2e_sql_statement_failing")
    assert outcome.state == "failed"
    assert "FAILED" in outcome.output and "missing" in outcome.output


def test_sql_task_runs_inside_a_databricks_workflow(workspace, e2e_dags):
    workspace.workspace.mkdirs("/Workspace/e2e/sql")
    workspace.workspace.upload(
        "/Workspace/e2e/sql/load.sql",
        b"CREATE SCHEMA IF NOT EXISTS e2e_sql;\n"
        b"CREATE OR REPLACE TABLE e2e_sql.workflow_loads (day STRING) USING delta;\n"
        b"INSERT INTO e2e_sql.workflow_loads VALUES (:day);\n",
        format=ImportFormat.RAW, overwrite=True,
    )

    dag_run = e2e_dags["e2e_sql_workflow"].test(logical_date=datetime(2025, 6, 2, tzinfo=UTC))

    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert states == {"workflow.launch": "success", "workflow.load": "success"}
    rows = run_sql(workspace, "SELECT day FROM e2e_sql.workflow_loads").result.data_array
    assert rows == [["2025-06-02"]]
