"""Delta's replaceWhere on the emulator as on Databricks: only matching rows are replaced, and
rows outside the condition refuse the write (DELTA_REPLACE_WHERE_MISMATCH), in both the
DataFrameWriter option and the SQL `INSERT INTO ... REPLACE WHERE` form."""

from __future__ import annotations

import json

from conftest import ensure_volume, new_cluster, run_notebook_task
from databricks.sdk.service import jobs

NOTEBOOK = """
import json
from pyspark.errors import AnalysisException

table = "sales.daily.revenue"
spark.sql(f"CREATE TABLE {table} (amount INT, day DATE) USING delta PARTITIONED BY (day)")
spark.sql(f"INSERT INTO {table} VALUES (1, DATE'2024-01-01'), (2, DATE'2024-01-02')")

def rows():
    return [[r.amount, str(r.day)] for r in spark.table(table).orderBy("day", "amount").collect()]

def refusal(write):
    try:
        write()
    except AnalysisException as error:
        return str(error)
    return None

second_day = spark.sql("SELECT 20 AS amount, DATE'2024-01-02' AS day")
(second_day.write.format("delta").mode("overwrite")
    .option("replaceWhere", "day = DATE'2024-01-02'").saveAsTable(table))
after_writer = rows()
spark.sql(f"INSERT INTO {table} REPLACE WHERE day = DATE'2024-01-01' SELECT 10, DATE'2024-01-01'")
after_sql = rows()
outcome = {
    "after_writer": after_writer,
    "after_sql": after_sql,
    "writer_outside": refusal(lambda: second_day.write.mode("overwrite")
        .option("replaceWhere", "day = DATE'2024-01-05'").saveAsTable(table)),
    "sql_outside": refusal(lambda: spark.sql(
        f"INSERT INTO {table} REPLACE WHERE day = DATE'2024-01-05' SELECT 3, DATE'2024-01-02'")),
    "path_write": refusal(lambda: second_day.write.format("delta").mode("overwrite")
        .option("replaceWhere", "day = DATE'2024-01-02'").save("/tmp/revenue_copy")),
    "after_refusals": rows(),
}
dbutils.notebook.exit(json.dumps(outcome))
"""


def test_replace_where_replaces_only_matching_rows_and_refuses_rows_outside(client):
    ensure_volume(client, "sales", "daily", "files")  # the catalog and schema of the table
    run = run_notebook_task(client, "replace_where", NOTEBOOK,
                            new_cluster=new_cluster("16.4.x-scala2.12"))
    output = client.jobs.get_run_output(run.tasks[0].run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS, output.error
    outcome = json.loads(output.notebook_output.result)

    assert outcome["after_writer"] == [[1, "2024-01-01"], [20, "2024-01-02"]]
    assert outcome["after_sql"] == [[10, "2024-01-01"], [20, "2024-01-02"]]
    mismatch = ("[DELTA_REPLACE_WHERE_MISMATCH] Written data does not conform to partial table "
                "overwrite condition or constraint 'day = DATE'2024-01-05''")
    assert outcome["writer_outside"].startswith(mismatch)
    assert outcome["sql_outside"].startswith(mismatch)
    assert "replaceWhere on a path write" in outcome["path_write"]
    assert "saveAsTable" in outcome["path_write"]
    assert outcome["after_refusals"] == outcome["after_sql"]  # nothing half-written
