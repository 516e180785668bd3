# Databricks notebook source
# MAGIC %md
# MAGIC # Daily revenue
# MAGIC Builds `curated.daily_revenue` (one row per order date) from the raw tables of one logical
# MAGIC date. A rerun replaces that date's row.

# COMMAND ----------

from pyspark.sql import functions as F

dbutils.widgets.text("logical_date", "")  # noqa: F821 - dbutils is provided by Databricks
logical_date = dbutils.widgets.get("logical_date")  # noqa: F821

# COMMAND ----------

# MAGIC %sql
# MAGIC CREATE SCHEMA IF NOT EXISTS curated

# COMMAND ----------

day = F.col("_ingest_date") == F.lit(logical_date).cast("date")
orders = spark.table("raw.orders").where(day)  # noqa: F821 - spark is provided by Databricks
paid = (
    spark.table("raw.payments")  # noqa: F821
    .where(day)
    .groupBy("order_id")
    .agg(F.sum("amount").alias("paid_amount"))
)
daily = (
    orders.join(paid, "order_id", "left")
    .groupBy("order_date")
    .agg(
        F.count("order_id").alias("orders"),
        F.countDistinct("customer_id").alias("customers"),
        F.sum("amount").cast("decimal(22,2)").alias("order_amount"),
        F.coalesce(F.sum("paid_amount"), F.lit(0)).cast("decimal(22,2)").alias("paid_amount"),
    )
)

writer = daily.write.format("delta")
if spark.catalog.tableExists("curated.daily_revenue"):  # noqa: F821
    writer = writer.mode("overwrite").option("replaceWhere", f"order_date = '{logical_date}'")
writer.saveAsTable("curated.daily_revenue")

# COMMAND ----------

display(spark.table("curated.daily_revenue").where(F.col("order_date") == logical_date))  # noqa: F821
