# Databricks notebook source
# MAGIC %md
# MAGIC # Daily revenue
# MAGIC Builds `<catalog>.<curated_schema>.daily_revenue` (one row per order date) from the raw
# MAGIC tables of one day (`run_date`). A rerun replaces that date's row and no other.

# COMMAND ----------

from pyspark.sql import functions as F

dbutils.widgets.text("run_date", "")  # noqa: F821 - dbutils is provided by Databricks
dbutils.widgets.text("catalog", "")  # noqa: F821
dbutils.widgets.text("raw_schema", "raw")  # noqa: F821
dbutils.widgets.text("curated_schema", "curated")  # noqa: F821
run_date = dbutils.widgets.get("run_date")  # noqa: F821
catalog = dbutils.widgets.get("catalog")  # noqa: F821
raw = f"{catalog}.{dbutils.widgets.get('raw_schema')}"  # noqa: F821
curated = f"{catalog}.{dbutils.widgets.get('curated_schema')}"  # noqa: F821
daily_revenue = f"{curated}.daily_revenue"

# COMMAND ----------

spark.sql(f"CREATE SCHEMA IF NOT EXISTS {curated}")  # noqa: F821 - spark is provided by Databricks

# COMMAND ----------

day = F.col("_ingest_date") == F.lit(run_date).cast("date")
orders = spark.table(f"{raw}.orders").where(day)  # noqa: F821 - spark is provided by Databricks
paid = (
    spark.table(f"{raw}.payments")  # noqa: F821
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

# One atomic commit replaces exactly this date's row; other dates are never touched.
if spark.catalog.tableExists(daily_revenue):  # noqa: F821
    daily.createOrReplaceTempView("daily")
    columns = ", ".join(spark.table(daily_revenue).columns)  # noqa: F821 - the table's order
    spark.sql(  # noqa: F821
        f"INSERT INTO {daily_revenue} REPLACE WHERE order_date = DATE'{run_date}' "
        f"SELECT {columns} FROM daily"
    )
else:
    daily.write.format("delta").partitionBy("order_date").saveAsTable(daily_revenue)

# COMMAND ----------

display(spark.table(daily_revenue).where(F.col("order_date") == run_date))  # noqa: F821
