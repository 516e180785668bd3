"""Keeps the Sail table catalog across compute restarts.

Sail 0.7's only local catalog is in memory and per Spark Connect session (its other catalog
types are remote services: Unity, Glue, Hive metastore, Iceberg REST). Within one compute, all
clients share one session (the engine puts `session_id` in the URL), which gives the tasks of a
job cluster one catalog like a real cluster. Across computes: a managed table's directory is named
`<table>-<uuid>` without its database, so the catalog cannot be rebuilt from directories alone.
So the catalog is journalled: after each task the compute's tables (database, name, location)
are merged into warehouse/_catalog.json, and a new compute registers them again as external
Delta tables (`CREATE TABLE ... USING delta LOCATION ...`) before any task runs.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession


def _session(url: str) -> SparkSession:
    return SparkSession.builder.remote(url).create()


def _close(spark: SparkSession) -> None:
    """Close the connection but keep the server-side session (and its catalog) alive:
    `stop()` would release the session the compute's tasks share."""
    spark.client.close()


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@contextmanager
def _locked(catalog_file: Path):
    catalog_file.parent.mkdir(parents=True, exist_ok=True)
    with open(catalog_file.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _load(catalog_file: Path) -> dict[str, dict[str, Any]]:
    return json.loads(catalog_file.read_text()) if catalog_file.exists() else {}


def _save(catalog_file: Path, tables: dict[str, dict[str, Any]]) -> None:
    tmp = catalog_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(tables, indent=1, sort_keys=True))
    os.replace(tmp, catalog_file)


def restore(url: str, catalog_file: Path) -> set[str]:
    """Register the journalled tables whose Delta log still exists; returns their keys."""
    with _locked(catalog_file):
        tables = _load(catalog_file)
    spark = _session(url)
    try:
        registered = set()
        for key, table in tables.items():
            if not (Path(table["location"]) / "_delta_log").is_dir():
                continue
            database = _quote(table["database"])
            spark.sql(f"CREATE DATABASE IF NOT EXISTS {database}")
            location = table["location"].replace("'", "\\'")
            spark.sql(
                f"CREATE TABLE IF NOT EXISTS {database}.{_quote(table['name'])} "
                f"USING delta LOCATION '{location}'"
            )
            registered.add(key)
        return registered
    finally:
        _close(spark)


def snapshot(url: str, catalog_file: Path, warehouse: Path, known: set[str]) -> set[str]:
    """Merge this compute's Delta tables into the journal; drop tables of `known` now gone."""
    spark = _session(url)
    try:
        current = {}
        for database in spark.catalog.listDatabases():
            for table in spark.catalog.listTables(database.name):
                if table.isTemporary or table.tableType == "VIEW":
                    continue
                details = _describe(spark, database.name, table.name)
                if details.get("Provider", "").lower() != "delta":
                    continue
                location = Path(details["Location"].removeprefix("file://"))
                current[f"{database.name}.{table.name}"] = {
                    "database": database.name,
                    "name": table.name,
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


def _describe(spark: SparkSession, database: str, table: str) -> dict[str, str]:
    rows = spark.sql(f"DESCRIBE TABLE EXTENDED {_quote(database)}.{_quote(table)}").collect()
    return {row.col_name: row.data_type for row in rows}
