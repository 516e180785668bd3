# Databricks notebook source
# MAGIC %md
# MAGIC # Ingest raw orders, customers and payments
# MAGIC Writes synthetic, deterministic rows for one day (`run_date`) into the `customers`,
# MAGIC `orders` and `payments` tables of `<catalog>.<raw_schema>` (Delta). A rerun for the same
# MAGIC date replaces that date's rows and no other (`INSERT ... REPLACE WHERE _ingest_date`), so
# MAGIC Airflow retries, clears and backfills are safe.

# COMMAND ----------

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

dbutils.widgets.text("run_date", "")  # noqa: F821 - dbutils is provided by Databricks
dbutils.widgets.text("catalog", "")  # noqa: F821
dbutils.widgets.text("raw_schema", "raw")  # noqa: F821
run_date = date.fromisoformat(dbutils.widgets.get("run_date"))  # noqa: F821
raw = f"{dbutils.widgets.get('catalog')}.{dbutils.widgets.get('raw_schema')}"  # noqa: F821
rng = random.Random(run_date.toordinal())  # same date, same rows
day_key = int(run_date.strftime("%Y%m%d"))

# COMMAND ----------

CUSTOMERS = [
    (1, "Ada Lovelace", "ada@example.com", "GB", date(2023, 1, 9)),
    (2, "Grace Hopper", "grace@example.com", "US", date(2023, 3, 2)),
    (3, "Kurt Goedel", "kurt@example.com", "DE", date(2023, 6, 17)),
    (4, "Sophie Germain", "sophie@example.com", "FR", date(2024, 2, 11)),
    (5, "Ken Thompson", "ken@example.com", "JP", date(2024, 9, 30)),
]
STATUSES = ["placed", "shipped", "completed", "completed", "returned"]
METHODS = ["card", "bank_transfer", "gift_card"]

customers = [(*customer, run_date) for customer in CUSTOMERS]
orders, payments = [], []
for n in range(1, 7):
    order_id = day_key * 100 + n
    amount = Decimal(rng.randint(500, 25000)) / 100
    status = rng.choice(STATUSES)
    orders.append((order_id, rng.randint(1, 5), run_date, status, amount, run_date))
    if status != "returned":
        paid_at = datetime.combine(run_date, time(8)) + timedelta(hours=n)
        payments.append(
            (order_id * 10 + 1, order_id, rng.choice(METHODS), amount, paid_at, run_date)
        )

# COMMAND ----------

SCHEMAS = {
    f"{raw}.customers": "customer_id BIGINT, name STRING, email STRING, country STRING, "
    "signup_date DATE, _ingest_date DATE",
    f"{raw}.orders": "order_id BIGINT, customer_id BIGINT, order_date DATE, status STRING, "
    "amount DECIMAL(12,2), _ingest_date DATE",
    f"{raw}.payments": "payment_id BIGINT, order_id BIGINT, payment_method STRING, "
    "amount DECIMAL(12,2), paid_at TIMESTAMP, _ingest_date DATE",
}
ROWS = {f"{raw}.customers": customers, f"{raw}.orders": orders, f"{raw}.payments": payments}

# One atomic commit per table replaces exactly this date's rows (INSERT ... REPLACE WHERE on the
# date partition): a rerun or backfill of the date leaves the same rows, other dates untouched.
spark.sql(f"CREATE SCHEMA IF NOT EXISTS {raw}")  # noqa: F821 - spark is provided by Databricks
for table, schema in SCHEMAS.items():
    frame = spark.createDataFrame(ROWS[table], schema)  # noqa: F821
    if not spark.catalog.tableExists(table):  # noqa: F821
        frame.write.format("delta").partitionBy("_ingest_date").saveAsTable(table)
        continue
    frame.createOrReplaceTempView("incoming")
    columns = ", ".join(spark.table(table).columns)  # noqa: F821 - the table's column order
    spark.sql(  # noqa: F821
        f"INSERT INTO {table} REPLACE WHERE _ingest_date = DATE'{run_date}' "
        f"SELECT {columns} FROM incoming"
    )

# COMMAND ----------

counts = {table: len(rows) for table, rows in ROWS.items()}
print(f"ingested {counts} for {run_date}")
dbutils.notebook.exit(str(counts))  # noqa: F821
