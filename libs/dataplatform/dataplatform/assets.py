"""Airflow Assets for the tables DAGs hand to each other: a producer lists them as ``outlets``, a
consumer is scheduled on them, so the chain runs as soon as the data is there, not by the clock."""

from __future__ import annotations

from airflow.sdk import Asset

from dataplatform.config import Environment

RAW_TABLES = ("customers", "orders", "payments")


def table_asset(env: Environment, schema: str, table: str) -> Asset:
    """A Unity Catalog table: named ``catalog.schema.table``."""
    name = env.unity_catalog.table(schema, table)
    return Asset(name=name, uri=f"unitycatalog://{name.replace('.', '/')}")


def raw_tables(env: Environment) -> list[Asset]:
    """What notebooks/ingest_raw.py writes."""
    return [table_asset(env, env.unity_catalog.raw_schema, table) for table in RAW_TABLES]


def dbt_build(env: Environment) -> Asset:
    """The models of the environment's ``dbt.select``, built and tested by ``dbt_daily_build``."""
    catalog = env.unity_catalog.catalog
    return Asset(name=f"{catalog}.dbt_build", uri=f"dbt://{catalog}/build")
