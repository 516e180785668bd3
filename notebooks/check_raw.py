# Databricks notebook source
# MAGIC %md
# MAGIC # Check the raw tables of one logical date
# MAGIC Fails the run (and so the Airflow task) when the day's raw data is missing or inconsistent,
# MAGIC before anything downstream reads it.

# COMMAND ----------

dbutils.widgets.text("logical_date", "")  # noqa: F821 - dbutils is provided by Databricks
logical_date = dbutils.widgets.get("logical_date")  # noqa: F821

# COMMAND ----------

day = f"_ingest_date = DATE'{logical_date}'"
orders = spark.table("raw.orders").where(day)  # noqa: F821 - spark is provided by Databricks
customers = spark.table("raw.customers").where(day)  # noqa: F821
payments = spark.table("raw.payments").where(day)  # noqa: F821

problems = []
if orders.count() == 0:
    problems.append("no orders")
if orders.join(customers, "customer_id", "left_anti").count():
    problems.append("orders whose customer_id is not in raw.customers")
if payments.join(orders, "order_id", "left_anti").count():
    problems.append("payments whose order_id is not in raw.orders")
if problems:
    raise AssertionError(f"raw tables for {logical_date} failed checks: {', '.join(problems)}")
print(f"raw tables for {logical_date} passed checks")
