"""The local SQL warehouse through databricks-sdk, databricks-sql-connector (SEA) and sql_task."""

from __future__ import annotations

import time

import pytest
from conftest import new_cluster, run_notebook_task, upload_notebook, wait_done
from databricks.sdk.errors import InvalidParameterValue, ResourceDoesNotExist
from databricks.sdk.service import jobs, sql
from databricks.sdk.service.workspace import ImportFormat

WAREHOUSE_ID = "10ca1da7aba5e001"
# rand() keeps Sail from answering without scanning: this runs for minutes unless canceled.
ENDLESS = "SELECT count(*) FROM range(0, 100000000000) WHERE rand() > 2"


def run_sql(client, statement: str, **kwargs) -> sql.StatementResponse:
    return client.statement_execution.execute_statement(statement, WAREHOUSE_ID, **kwargs)


def wait_statement(client, statement_id: str, timeout: float = 120) -> sql.StatementResponse:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.statement_execution.get_statement(statement_id)
        if response.status.state not in (sql.StatementState.PENDING, sql.StatementState.RUNNING):
            return response
        time.sleep(0.2)
    raise AssertionError(f"statement {statement_id} did not finish in {timeout} s")


def test_one_local_warehouse_is_listed_with_its_http_path(client, emulator):
    (warehouse,) = client.warehouses.list()
    assert warehouse.id == WAREHOUSE_ID
    assert warehouse.odbc_params.path == f"/sql/1.0/warehouses/{WAREHOUSE_ID}"
    assert warehouse.odbc_params.port == emulator["port"]
    with pytest.raises(ResourceDoesNotExist, match=WAREHOUSE_ID):
        client.warehouses.get("0123456789abcdef")


def test_sync_statements_write_and_read_a_delta_table(client):
    assert run_sql(client, "CREATE SCHEMA IF NOT EXISTS sales").status.state.value == "SUCCEEDED"
    created = run_sql(client, "CREATE OR REPLACE TABLE orders (id INT, amount DECIMAL(10,2), "
                      "day DATE) USING delta", schema="sales")
    assert created.status.state == sql.StatementState.SUCCEEDED, created.status.error
    run_sql(client, "INSERT INTO sales.orders VALUES (1, 9.50, DATE'2025-01-01'), "
            "(2, 20.00, DATE'2025-01-02'), (3, 5.25, DATE'2025-01-03')")

    response = run_sql(
        client,
        "SELECT id, amount, day FROM orders WHERE amount > :least ORDER BY id",
        schema="sales",
        parameters=[sql.StatementParameterListItem(name="least", value="6", type="DECIMAL(10,2)")],
    )

    assert response.status.state == sql.StatementState.SUCCEEDED, response.status.error
    columns = [(c.name, c.type_name.value, c.type_text) for c in response.manifest.schema.columns]
    assert columns == [("id", "INT", "INT"), ("amount", "DECIMAL", "DECIMAL(10,2)"),
                       ("day", "DATE", "DATE")]
    assert response.result.data_array == [["1", "9.50", "2025-01-01"],
                                          ["2", "20.00", "2025-01-02"]]
    assert response.manifest.total_row_count == 2
    assert response.manifest.truncated is False


def test_a_table_created_without_a_format_is_delta(client):
    """Databricks' default table format is Delta: CREATE TABLE without USING makes a Delta
    table, written and read like any other (the local engine's own default is Parquet)."""
    for statement in ("CREATE SCHEMA IF NOT EXISTS formats",
                      "CREATE OR REPLACE TABLE formats.plain (v STRING)",
                      "INSERT INTO formats.plain VALUES ('a'), ('b')",
                      "CREATE OR REPLACE TABLE formats.plain_ctas AS SELECT 1 AS one"):
        done = run_sql(client, statement)
        assert done.status.state == sql.StatementState.SUCCEEDED, (statement, done.status.error)
    for table in ("formats.plain", "formats.plain_ctas"):
        described = run_sql(client, f"DESCRIBE TABLE EXTENDED {table}").result.data_array
        assert ["Provider", "delta"] in [row[:2] for row in described], described
    rows = run_sql(client, "SELECT v FROM formats.plain ORDER BY v").result.data_array
    assert rows == [["a"], ["b"]]


def test_replace_where_replaces_one_day_and_refuses_rows_outside_it(client):
    # dbt-databricks' replace_where strategy sends the `table <staged rows>` form.
    for text in ("CREATE SCHEMA IF NOT EXISTS sales",
                 "CREATE OR REPLACE TABLE sales.daily (amount INT, day DATE) USING delta "
                 "PARTITIONED BY (day)",
                 "INSERT INTO sales.daily VALUES (1, DATE'2025-01-01'), (2, DATE'2025-01-02')",
                 "CREATE OR REPLACE TABLE sales.first_day USING delta AS "
                 "SELECT 10, DATE'2025-01-01' UNION ALL SELECT 11, DATE'2025-01-01'",
                 "CREATE OR REPLACE TABLE sales.third_day USING delta AS "
                 "SELECT 30, DATE'2025-01-03'"):
        assert run_sql(client, text).status.state == sql.StatementState.SUCCEEDED

    def replace_first_day_with(staged: str) -> sql.StatementResponse:
        return run_sql(client, "insert into sales.daily\nreplace where day = DATE'2025-01-01'\n"
                       f"table {staged}")

    replaced = replace_first_day_with("sales.first_day")
    outside = replace_first_day_with("sales.third_day")
    rows = run_sql(client, "SELECT amount, day FROM sales.daily ORDER BY day, amount")

    assert replaced.status.state == sql.StatementState.SUCCEEDED, replaced.status.error
    assert outside.status.state == sql.StatementState.FAILED
    assert outside.status.error.error_code == sql.ServiceErrorCode.BAD_REQUEST
    assert "[DELTA_REPLACE_WHERE_MISMATCH]" in outside.status.error.message
    assert rows.result.data_array == [["10", "2025-01-01"], ["11", "2025-01-01"],
                                      ["2", "2025-01-02"]]  # nothing of the refused write


def test_a_table_a_job_writes_is_queryable_on_the_running_warehouse(client):
    assert run_sql(client, "SELECT 1").status.state == sql.StatementState.SUCCEEDED  # started
    run = run_notebook_task(
        client,
        "write_returns",
        "spark.sql('CREATE SCHEMA IF NOT EXISTS sales')\n"
        "spark.range(4).selectExpr('id AS return_id').write.format('delta')"
        ".mode('overwrite').saveAsTable('sales.returns')",
        new_cluster=new_cluster("16.4.x-scala2.12"),
    )
    assert run.state.result_state == jobs.RunResultState.SUCCESS

    response = run_sql(client, "SELECT count(*) FROM sales.returns")
    assert response.status.state == sql.StatementState.SUCCEEDED, response.status.error
    assert response.result.data_array == [["4"]]


def test_a_table_a_task_wrote_is_queryable_while_its_job_cluster_still_runs(client):
    """A compute journals its tables lazily (when it stops or someone reads the journal), not
    after each task: a finished task's table must still be visible at once, as on Databricks."""
    assert run_sql(client, "SELECT 1").status.state == sql.StatementState.SUCCEEDED  # started
    upload_notebook(client, "/Users/dev/write_holds",
                    "spark.sql('CREATE SCHEMA IF NOT EXISTS sales')\n"
                    "spark.range(3).write.format('delta').mode('overwrite')"
                    ".saveAsTable('sales.holds')")
    upload_notebook(client, "/Users/dev/hold", "import time\ntime.sleep(600)")
    job_id = client.jobs.create(
        name="write_then_hold",
        job_clusters=[jobs.JobCluster("main", new_cluster("16.4.x-scala2.12"))],
        tasks=[jobs.Task("write", job_cluster_key="main",
                         notebook_task=jobs.NotebookTask("/Users/dev/write_holds")),
               jobs.Task("hold", job_cluster_key="main", depends_on=[jobs.TaskDependency("write")],
                         notebook_task=jobs.NotebookTask("/Users/dev/hold"))],
    ).job_id
    run_id = client.jobs.run_now(job_id).response.run_id
    try:
        deadline = time.monotonic() + 240
        while True:
            tasks = {t.task_key: t.state for t in client.jobs.get_run(run_id).tasks}
            if tasks["hold"].life_cycle_state == jobs.RunLifeCycleState.RUNNING:
                break
            assert tasks["write"].result_state in (None, jobs.RunResultState.SUCCESS), tasks
            assert time.monotonic() < deadline, f"the hold task never started: {tasks}"
            time.sleep(0.3)

        response = run_sql(client, "SELECT count(*) FROM sales.holds")
        assert response.status.state == sql.StatementState.SUCCEEDED, response.status.error
        assert response.result.data_array == [["3"]]
    finally:
        client.jobs.cancel_run(run_id)
        wait_done(client, run_id)


def test_statements_run_in_a_unity_catalog_catalog_created_while_the_warehouse_runs(client):
    assert run_sql(client, "SELECT 1").status.state == sql.StatementState.SUCCEEDED  # started
    unknown = run_sql(client, "SELECT 1", catalog="finance")
    assert unknown.status.state == sql.StatementState.FAILED
    assert "Catalog 'finance' was not found" in unknown.status.error.message

    client.catalogs.create("finance")
    for statement in ("CREATE SCHEMA IF NOT EXISTS ledger",
                      "CREATE TABLE ledger.entries (id INT) USING delta",
                      "INSERT INTO ledger.entries VALUES (1), (2)"):  # fmt: skip
        done = run_sql(client, statement, catalog="finance")
        assert done.status.state == sql.StatementState.SUCCEEDED, done.status.error

    response = run_sql(client, "SELECT count(*) FROM finance.ledger.entries")
    assert response.result.data_array == [["2"]]
    # Two-level names resolve in the statement's catalog; hive_metastore is the default.
    assert run_sql(client, "SELECT count(*) FROM ledger.entries").status.state == (
        sql.StatementState.FAILED
    )


def test_row_limit_truncates_the_result(client):
    response = run_sql(client, "SELECT id FROM range(10) ORDER BY id", row_limit=3)
    assert response.result.data_array == [["0"], ["1"], ["2"]]
    assert response.manifest.truncated is True


def test_async_statement_is_polled_to_its_result(client):
    submitted = run_sql(client, "SELECT 40 + 2 AS answer", wait_timeout="0s")
    assert submitted.status.state in (sql.StatementState.PENDING, sql.StatementState.RUNNING)
    assert submitted.result is None

    done = wait_statement(client, submitted.statement_id)

    assert done.status.state == sql.StatementState.SUCCEEDED
    assert done.result.data_array == [["42"]]
    chunk = client.statement_execution.get_statement_result_chunk_n(submitted.statement_id, 0)
    assert chunk.data_array == [["42"]]


def test_cancel_stops_a_running_statement(client):
    submitted = run_sql(client, ENDLESS, wait_timeout="0s")
    client.statement_execution.cancel_execution(submitted.statement_id)
    assert wait_statement(client, submitted.statement_id).status.state.value == "CANCELED"
    # The warehouse is free again for the next statement.
    assert run_sql(client, "SELECT 1").result.data_array == [["1"]]


def test_sql_errors_fail_the_statement_with_status_error(client):
    response = run_sql(client, "SELECT * FROM sales.no_such_table")
    assert response.status.state == sql.StatementState.FAILED
    assert response.status.error.error_code == sql.ServiceErrorCode.BAD_REQUEST
    assert "no_such_table" in response.status.error.message
    unknown_catalog = run_sql(client, "SELECT 1", catalog="main")
    assert unknown_catalog.status.state == sql.StatementState.FAILED
    assert "Catalog 'main' was not found" in unknown_catalog.status.error.message


def test_unsupported_requests_are_refused_with_the_way_round(client):
    with pytest.raises(InvalidParameterValue, match="use_cloud_fetch=False"):
        run_sql(client, "SELECT 1", disposition=sql.Disposition.EXTERNAL_LINKS)
    with pytest.raises(InvalidParameterValue, match="JSON_ARRAY"):
        run_sql(client, "SELECT 1", format=sql.Format.ARROW_STREAM)
    with pytest.raises(InvalidParameterValue, match="5s to 50s"):
        run_sql(client, "SELECT 1", wait_timeout="60s")
    with pytest.raises(ResourceDoesNotExist, match=WAREHOUSE_ID):
        client.statement_execution.execute_statement("SELECT 1", "0123456789abcdef")


def test_sql_connector_sea_backend_runs_queries(client, emulator):
    from databricks import sql as dbsql  # pants: no-infer-dep (databricks-sql-connector)

    run_sql(client, "CREATE SCHEMA IF NOT EXISTS sea")
    connection = dbsql.connect(
        server_hostname="http://127.0.0.1",
        port=emulator["port"],
        http_path=f"/sql/1.0/warehouses/{WAREHOUSE_ID}",
        access_token=emulator["token"],
        use_sea=True,
        use_cloud_fetch=False,  # INLINE results: the warehouse has no EXTERNAL_LINKS
        enable_telemetry=False,  # telemetry ignores the port and would retry on port 80
    )
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT :n * 2 AS doubled, 'x' AS tag", {"n": 21})
        assert [tuple(row) for row in cursor.fetchall()] == [(42, "x")]
        assert [d[:2] for d in cursor.description] == [("doubled", "int"), ("tag", "string")]
        cursor.execute("USE SCHEMA sea")
        cursor.execute("CREATE OR REPLACE TABLE events (id BIGINT) USING delta")
        cursor.execute("INSERT INTO events VALUES (7)")
        cursor.execute("SELECT id FROM events")  # the session kept its schema
        assert cursor.fetchall()[0].id == 7


def test_sql_task_runs_a_workspace_file_statement_by_statement(client):
    client.workspace.mkdirs("/Shared/sql")
    client.workspace.upload(
        "/Shared/sql/load.sql",
        b"-- daily load; a semicolon in a comment;\n"
        b"CREATE SCHEMA IF NOT EXISTS mart;\n"
        b"CREATE OR REPLACE TABLE mart.daily (day STRING, note STRING) USING delta;\n"
        b"INSERT INTO mart.daily VALUES (:day, 'a;b');\n",
        format=ImportFormat.RAW,
        overwrite=True,
    )
    task = jobs.SubmitTask(
        task_key="load",
        sql_task=jobs.SqlTask(
            warehouse_id=WAREHOUSE_ID,
            file=jobs.SqlTaskFile(path="/Shared/sql/load.sql"),
            parameters={"day": "2025-06-01"},
        ),
    )
    run = wait_done(client, client.jobs.submit(run_name="sql", tasks=[task]).response.run_id)

    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state.state_message
    rows = run_sql(client, "SELECT day, note FROM mart.daily").result.data_array
    assert rows == [["2025-06-01", "a;b"]]


def test_sql_task_failures_name_the_cause(client):
    client.workspace.upload("/Shared/sql/broken.sql", b"SELECT 1;\nSELECT * FROM mart.nope;\n",
                            format=ImportFormat.RAW, overwrite=True)
    tasks = [
        jobs.SubmitTask(task_key="broken", sql_task=jobs.SqlTask(
            warehouse_id=WAREHOUSE_ID, file=jobs.SqlTaskFile(path="/Shared/sql/broken.sql"))),
        jobs.SubmitTask(task_key="alert", sql_task=jobs.SqlTask(
            warehouse_id=WAREHOUSE_ID, alert=jobs.SqlTaskAlert(alert_id="a1"))),
        jobs.SubmitTask(task_key="elsewhere", sql_task=jobs.SqlTask(
            warehouse_id="0123456789abcdef", file=jobs.SqlTaskFile(path="/Shared/sql/load.sql"))),
    ]
    run = wait_done(client, client.jobs.submit(run_name="sql-fail", tasks=tasks).response.run_id)

    messages = {t.task_key: t.state.state_message for t in run.tasks}
    assert "Statement 2 of /Shared/sql/broken.sql failed" in messages["broken"]
    assert "nope" in messages["broken"]
    assert "sql_task.alert" in messages["alert"] and "sql_task.file" in messages["alert"]
    assert "0123456789abcdef" in messages["elsewhere"]
    assert all(t.state.result_state == jobs.RunResultState.FAILED for t in run.tasks)
