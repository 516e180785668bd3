"""Delta's selective overwrite (`replaceWhere`) as Databricks applies it, on the local engine.

Sail ignores the DataFrameWriter option `replaceWhere` (an overwrite then replaces the whole
table) and accepts rows outside a `REPLACE WHERE` condition. Databricks replaces only the rows
matching the condition and refuses the write when a written row does not match it
(DELTA_REPLACE_WHERE_MISMATCH). `install()` makes a task's Spark Connect client do the same:
the writer option becomes the SQL form Sail applies correctly, and both forms are checked first.
The SQL warehouse checks its statements with `refuse_rows_outside` too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pyspark.errors import AnalysisException

REPLACE_WHERE_SQL = re.compile(
    r"^\s*INSERT\s+INTO\s+(?:TABLE\s+)?(?P<table>\S+)\s+REPLACE\s+WHERE\s+(?P<condition>.+?)\s+"
    r"(?P<query>(?:SELECT|WITH|VALUES|TABLE|FROM)\b.*)$",
    re.IGNORECASE | re.DOTALL,
)


class ReplaceWhereMismatch(AnalysisException):
    """Databricks' error when written rows fall outside the replaceWhere condition."""

    def __init__(self, condition: str) -> None:
        super().__init__(
            message="[DELTA_REPLACE_WHERE_MISMATCH] Written data does not conform to partial table "
            f"overwrite condition or constraint '{condition}'. SQLSTATE: 44000"
        )


class PathReplaceWhereUnsupported(AnalysisException):
    """A path write with replaceWhere: the local engine cannot apply it correctly."""

    def __init__(self, path: str | None) -> None:
        super().__init__(
            message=f"replaceWhere on a path write ({path}) is not supported by the local engine "
            "(it would overwrite the whole table): write to a table with saveAsTable, or use "
            "INSERT INTO <table> REPLACE WHERE <condition> SELECT ..."
        )


def refuse_rows_outside(spark: Any, statement: str, query: Callable[[str], Any]) -> None:
    """Refuse an `INSERT INTO ... REPLACE WHERE` statement whose rows do not all match its
    condition; `query` runs SQL on `spark` without this check."""
    match = REPLACE_WHERE_SQL.match(statement)
    if match:
        rows, columns = query(match["query"]), spark.table(match["table"]).columns
        if len(rows.columns) == len(columns):  # else the statement itself names the error
            _check_conforms(rows.toDF(*columns), match["condition"])  # by position, as INSERT


def _check_conforms(rows: Any, condition: str) -> None:
    """Refuse rows for which the condition is false, as Delta's constraint check does."""
    if rows.filter(f"NOT ({condition})").limit(1).count():
        raise ReplaceWhereMismatch(condition)


def _replace_where_option(writer: Any) -> str | None:
    options = {key.lower(): value for key, value in writer._write.options.items()}
    return options.get("replacewhere")


def _overwrites(writer: Any) -> bool:
    return (writer._write.mode or "").lower() == "overwrite"


def install() -> None:
    """Patch the Spark Connect client of this task process (the emulated runtime)."""
    from pyspark.sql.connect.dataframe import DataFrame
    from pyspark.sql.connect.readwriter import DataFrameWriter
    from pyspark.sql.connect.session import SparkSession

    save_as_table, save, sql = DataFrameWriter.saveAsTable, DataFrameWriter.save, SparkSession.sql

    def checked_sql(self, sqlQuery: str, args: Any = None, **kwargs: Any):
        if not args and not kwargs:
            refuse_rows_outside(self, sqlQuery, lambda query: sql(self, query))
        return sql(self, sqlQuery, args, **kwargs)

    def save_as_table_replacing(self, name: str, format: str | None = None,
                                mode: str | None = None, partitionBy: Any = None,
                                **options: Any) -> None:
        self.mode(mode).options(**options)
        condition = _replace_where_option(self)
        if condition is None or not _overwrites(self):
            return save_as_table(self, name, format, None, partitionBy)
        rows = DataFrame(self._df, self._spark)
        _check_conforms(rows, condition)
        if not self._spark.catalog.tableExists(name):
            return save_as_table(self, name, format, None, partitionBy)
        columns = ", ".join(f"`{column}`" for column in self._spark.table(name).columns)
        view = f"_replace_where_{id(self)}"
        rows.createOrReplaceTempView(view)
        try:
            sql(self._spark, f"INSERT INTO {name} REPLACE WHERE {condition} "
                             f"SELECT {columns} FROM {view}")
        finally:
            self._spark.catalog.dropTempView(view)

    def save_refusing_path_replace(self, path: str | None = None, format: str | None = None,
                                   mode: str | None = None, partitionBy: Any = None,
                                   **options: Any) -> None:
        self.mode(mode).options(**options)
        if _replace_where_option(self) is not None and _overwrites(self):
            raise PathReplaceWhereUnsupported(path)
        return save(self, path, format, None, partitionBy)

    SparkSession.sql = checked_sql
    DataFrameWriter.saveAsTable = save_as_table_replacing
    DataFrameWriter.save = save_refusing_path_replace
