"""Keeps the Sail table catalog across compute restarts.

Sail 0.7's only local catalog is in memory and per Spark Connect session (its other catalog
types are remote services: Unity, Glue, Hive metastore, Iceberg REST). Within one compute, all
clients share one session (the engine puts `session_id` in the URL), which gives the tasks of a
job cluster one catalog like a real cluster. Across computes: a managed table's directory is named
`<table>-<uuid>` without its database, so the catalog cannot be rebuilt from directories alone.
So the catalog is journalled: after each task the compute's tables (catalog, database, name,
location; keyed `catalog.database.table`) are merged into warehouse/_catalog.json, and a new
compute registers them again as external Delta tables (`CREATE TABLE ... USING delta LOCATION
...`) in their catalog before any task runs. Views are journalled with their SQL text and
created again after the tables (as on Databricks, a view outlives the cluster that made it).
Each Unity Catalog catalog is a Sail catalog of its own (see unity_catalog.py); entries
journalled before catalogs existed belong to hive_metastore.
"""

from __future__ import annotations

import fcntl
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from local_databricks.store import atomic_write, read_json
from local_databricks.unity_catalog import HIVE_METASTORE

SAIL_SYSTEM_CATALOG = "system"  # Sail's own read-only catalog of system tables


def _session(url: str) -> SparkSession:
    return SparkSession.builder.remote(url).create()


def _close(spark: SparkSession) -> None:
    """Close the connection but keep the server-side session (and its catalog) alive:
    `stop()` would release the session the compute's tasks share."""
    spark.client.close()


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _qualified(*parts: str) -> str:
    return ".".join(_quote(part) for part in parts)


@contextmanager
def _locked(catalog_file: Path):
    catalog_file.parent.mkdir(parents=True, exist_ok=True)
    with open(catalog_file.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _load(catalog_file: Path) -> dict[str, dict[str, Any]]:
    entries = read_json(catalog_file, {})
    tables = ({"catalog": HIVE_METASTORE} | entry for entry in entries.values())
    return {f"{t['catalog']}.{t['database']}.{t['name']}": t for t in tables}


def _save(catalog_file: Path, tables: dict[str, dict[str, Any]]) -> None:
    atomic_write(catalog_file, json.dumps(tables, indent=1, sort_keys=True))


def set_table_defaults(url: str, directory: Path) -> None:
    """Managed tables of the compute's session go under ``directory``, in Delta. Sail's default
    place is the relative ./spark-warehouse, and its CREATE TABLE without LOCATION refuses a
    relative one (Databricks creates a managed table); its default format is Parquet, where
    Databricks' is Delta ("All tables created in Databricks use Delta Lake by default")."""
    spark = _session(url)
    try:
        spark.conf.set("spark.sql.warehouse.dir", str(directory))
        spark.conf.set("spark.sql.sources.default", "delta")
    finally:
        _close(spark)


def restore(url: str, catalog_file: Path, catalogs: list[str], schemas: list[str]) -> set[str]:
    """Create the given schemas (`catalog.schema`) and register the journalled tables of
    `catalogs` whose Delta log still exists; returns their keys."""
    with _locked(catalog_file):
        tables = _load(catalog_file)
    spark = _session(url)
    try:
        for schema in schemas:
            spark.sql(f"CREATE DATABASE IF NOT EXISTS {_qualified(*schema.split('.'))}")
        registered = set()
        ours = {key: table for key, table in tables.items() if table["catalog"] in catalogs}
        for key, table in ours.items():
            if "view" in table or not (Path(table["location"]) / "_delta_log").is_dir():
                continue
            database = _qualified(table["catalog"], table["database"])
            spark.sql(f"CREATE DATABASE IF NOT EXISTS {database}")
            location = table["location"].replace("'", "\\'")
            spark.sql(
                f"CREATE TABLE IF NOT EXISTS {database}.{_quote(table['name'])} "
                f"USING delta LOCATION '{location}'"
            )
            registered.add(key)
        views = {key: table for key, table in ours.items() if "view" in table}
        return registered | _create_views(spark, views)
    finally:
        _close(spark)


def _create_views(spark: SparkSession, views: dict[str, dict[str, Any]]) -> set[str]:
    """Create the journalled views; a view may read another, so go round until none is left or
    a round creates none. Each is created from inside its own catalog, where its unqualified
    names were written."""
    created: set[str] = set()
    pending = dict(views)
    current = spark.catalog.currentCatalog()
    try:
        progress = True
        while pending and progress:
            progress = False
            for key, view in list(pending.items()):
                spark.sql(f"USE CATALOG {_quote(view['catalog'])}")
                name = _qualified(view["database"], view["name"])
                try:
                    spark.sql(f"CREATE VIEW IF NOT EXISTS {name} AS {view['view']}")
                except Exception:  # noqa: BLE001 - reads a view not created yet, or is broken
                    continue
                created.add(key)
                del pending[key]
                progress = True
    finally:
        spark.sql(f"USE CATALOG {_quote(current)}")
    return created


def snapshot(url: str, catalog_file: Path, warehouse: Path, known: set[str]) -> set[str]:
    """Merge this compute's Delta tables into the journal; drop tables of `known` now gone."""
    spark = _session(url)
    try:
        current = {}
        for catalog_name, database, table, is_view in _tables(spark):
            details = _describe(spark, catalog_name, database, table)
            key = f"{catalog_name}.{database}.{table}"
            if is_view:
                if details.get("View Text"):
                    current[key] = {"catalog": catalog_name, "database": database,
                                    "name": table, "view": details["View Text"]}  # fmt: skip
                continue
            if details.get("Provider", "").lower() != "delta":
                continue
            location = Path(details["Location"].removeprefix("file://"))
            current[key] = {
                "catalog": catalog_name,
                "database": database,
                "name": table,
                "location": str(location if location.is_absolute() else warehouse / location),
            }
    finally:
        _close(spark)
    with _locked(catalog_file):
        tables = _load(catalog_file)
        for key in known - current.keys():
            tables.pop(key, None)
        tables.update(current)
        _save(catalog_file, tables)
    return set(current)


def forget(catalog_file: Path, schemas: set[str]) -> None:
    """Drop the journalled tables of these schemas (`catalog.schema`), e.g. after a forced
    delete of their catalog or schema."""
    with _locked(catalog_file):
        tables = _load(catalog_file)
        kept = {k: t for k, t in tables.items() if k.rsplit(".", 1)[0] not in schemas}
        if kept != tables:
            _save(catalog_file, kept)


def tables_in(catalog_file: Path, schema: str) -> list[str]:
    """Journalled table keys of one schema (`catalog.schema`)."""
    with _locked(catalog_file):
        return [key for key in _load(catalog_file) if key.rsplit(".", 1)[0] == schema]


def _tables(spark: SparkSession) -> list[tuple[str, str, str, bool]]:
    """(catalog, database, name, is a view) of every persistent table and view of the
    compute's catalogs."""
    found = []
    for catalog_entry in spark.catalog.listCatalogs():
        if catalog_entry.name == SAIL_SYSTEM_CATALOG:
            continue
        for row in spark.sql(f"SHOW DATABASES IN {_quote(catalog_entry.name)}").collect():
            for table in spark.catalog.listTables(_qualified(catalog_entry.name, row.name)):
                if not table.isTemporary:
                    is_view = table.tableType == "VIEW"
                    found.append((catalog_entry.name, row.name, table.name, is_view))
    return found


def _describe(spark: SparkSession, *name: str) -> dict[str, str]:
    rows = spark.sql(f"DESCRIBE TABLE EXTENDED {_qualified(*name)}").collect()
    return {row.col_name: row.data_type for row in rows}
