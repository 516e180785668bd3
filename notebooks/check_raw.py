# Databricks notebook source
# MAGIC %md
# MAGIC # Check the raw tables of one day
# MAGIC Fails the run (and so the Airflow task) when the day's raw data is missing or inconsistent,
# MAGIC before anything downstream reads it.

# COMMAND ----------

dbutils.widgets.text("run_date", "")  # noqa: F821 - dbutils is provided by Databricks
dbutils.widgets.text("catalog", "")  # noqa: F821
dbutils.widgets.text("raw_schema", "raw")  # noqa: F821
run_date = dbutils.widgets.get("run_date")  # noqa: F821
raw = f"{dbutils.widgets.get('catalog')}.{dbutils.widgets.get('raw_schema')}"  # noqa: F821

# COMMAND ----------

day = f"_ingest_date = DATE'{run_date}'"
orders = spark.table(f"{raw}.orders").where(day)  # noqa: F821 - spark is provided by Databricks
customers = spark.table(f"{raw}.customers").where(day)  # noqa: F821
payments = spark.table(f"{raw}.payments").where(day)  # noqa: F821

problems = []
if orders.count() == 0:
    problems.append("no orders")
if orders.join(customers, "customer_id", "left_anti").count():
    problems.append(f"orders whose customer_id is not in {raw}.customers")
if payments.join(orders, "order_id", "left_anti").count():
    problems.append(f"payments whose order_id is not in {raw}.orders")
if problems:
    raise AssertionError(f"raw tables for {run_date} failed checks: {', '.join(problems)}")
print(f"raw tables for {run_date} passed checks")
