"""The one local SQL warehouse: a Sail compute that runs SQL statements one at a time.

The compute starts on the first statement (or warehouses/start), like an auto-starting
warehouse, and stays up across statements until warehouses/stop or server shutdown. Statements
run in submission order on one worker thread: the compute has one Spark Connect session (the
catalog lives in it), so running them one by one keeps each statement's schema (`USE SCHEMA`)
its own. Tables written by job runs on other computes are registered again when the catalog
journal changes; tables this warehouse writes are journalled after each writing statement.
Statements run in their `catalog` (default hive_metastore), any Unity Catalog catalog of the
workspace; a compute has the catalogs that existed when it started, so one created or dropped
since restarts it (tables and views come back from the journal).
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import queue
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any

from local_databricks.engine import Engine, journal_changes
from local_databricks import selective_overwrite
from local_databricks.layout import StateLayout
from local_databricks.sql_text import bind_parameters
from local_databricks.unity_catalog import HIVE_METASTORE, UnityCatalog

WAREHOUSE_ID = "10ca1da7aba5e001"
WAREHOUSE_NAME = "Local SQL warehouse"
# Spark's name for the session catalog, which is hive_metastore here as on Databricks.
SPARK_SESSION_CATALOG = "spark_catalog"
INLINE_LIMIT_BYTES = 25 * 1024 * 1024  # Databricks' limit for INLINE results
# Statements that cannot change the catalog: no journal write after them.
READ_ONLY_KEYWORDS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "VALUES", "USE")
TERMINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELED", "CLOSED")

_TYPE_NAMES = {
    "integer": "INT", "long": "LONG", "short": "SHORT", "byte": "BYTE", "float": "FLOAT",
    "double": "DOUBLE", "decimal": "DECIMAL", "string": "STRING", "varchar": "STRING",
    "char": "CHAR", "boolean": "BOOLEAN", "date": "DATE", "timestamp": "TIMESTAMP",
    "timestamp_ntz": "TIMESTAMP", "binary": "BINARY", "array": "ARRAY", "map": "MAP",
    "struct": "STRUCT", "void": "NULL",
}


class StatementError(Exception):
    """A statement that fails the way Databricks reports it: state FAILED with status.error."""

    def __init__(self, message: str, error_code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.error_code = error_code


@dataclass
class Statement:
    """One statement execution: its request, state and (once SUCCEEDED) its result."""

    text: str
    parameters: list[dict[str, Any]] = field(default_factory=list)
    catalog: str | None = None
    schema: str | None = None
    row_limit: int | None = None
    byte_limit: int | None = None
    session: Session | None = None
    statement_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    state: str = "PENDING"
    error: dict[str, str] | None = None
    manifest: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def done(self) -> bool:
        return self.state in TERMINAL_STATES

    def wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with self.changed:
            while not self.done and (remaining := deadline - time.monotonic()) > 0:
                self.changed.wait(remaining)

    def finish(self, state: str, error: StatementError | None = None) -> None:
        with self.changed:
            if self.done:  # canceled or closed meanwhile: keep that state
                return
            self.state = state
            if error is not None:
                self.error = {"error_code": error.error_code, "message": str(error)}
            self.changed.notify_all()


@dataclass
class Session:
    """A SEA session (databricks-sql-connector use_sea=True): default catalog and schema."""

    catalog: str | None
    schema: str | None
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))


class Warehouse:
    def __init__(self, engine: Engine, layout: StateLayout) -> None:
        self._engine, self._layout = engine, layout
        self._compute: Any = None
        self._catalogs: list[str] = []  # what the running compute was started with
        self._spark: Any = None
        self._catalog_version = 0.0
        self._running: Statement | None = None
        self._lock = threading.Lock()  # guards the compute's start and stop
        self._queue: queue.Queue[Statement] = queue.Queue()
        threading.Thread(target=self._work, daemon=True, name="sql-warehouse").start()

    @property
    def state(self) -> str:
        return "RUNNING" if self._compute is not None else "STOPPED"

    def start(self) -> None:
        with self._lock:
            if self._compute is None:
                log = self._layout.runs / "warehouse" / f"{WAREHOUSE_ID}.log"
                self._catalogs = UnityCatalog(self._layout).spark_catalogs()
                self._compute = self._engine.start(f"warehouse:{WAREHOUSE_ID}", log)
                self._catalog_version = self._journal_version()

    def stop(self) -> None:
        """Cancel what is running, then stop the compute (journalling its catalog)."""
        running = self._running
        if running is not None:
            self.cancel(running)
        self._stop_compute()

    def _stop_compute(self) -> None:
        with self._lock:
            compute, self._compute = self._compute, None
            spark, self._spark = self._spark, None
        if spark is not None:
            spark.client.close()
        if compute is not None:
            compute.stop()

    def submit(self, statement: Statement) -> Statement:
        self._queue.put(statement)
        return statement

    def cancel(self, statement: Statement) -> None:
        with statement.changed:
            if statement.done:
                return
            was_running = statement.state == "RUNNING"
            statement.state = "CANCELED"
            statement.changed.notify_all()
        if was_running and self._spark is not None:
            self._spark.interruptAll()

    def close(self, statement: Statement) -> None:
        """statements DELETE: cancel if needed and drop the result."""
        self.cancel(statement)
        with statement.changed:
            statement.state, statement.result = "CLOSED", None
            statement.changed.notify_all()

    # -- the worker ------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            statement = self._queue.get()
            with statement.changed:
                if statement.done:
                    continue
                statement.state = "RUNNING"
            self._running = statement
            try:
                self._execute(statement)
                statement.finish("SUCCEEDED")
            except StatementError as error:
                statement.finish("FAILED", error)
            except Exception as error:  # noqa: BLE001 - Spark's errors become FAILED statements
                statement.finish("FAILED", _spark_error(error))
            finally:
                self._running = None

    def _session(self):
        from pyspark.sql import SparkSession

        catalogs = UnityCatalog(self._layout).spark_catalogs()
        if self._compute is not None and self._catalogs != catalogs:
            self._stop_compute()
        self.start()
        if self._spark is None:
            self._spark = SparkSession.builder.remote(self._compute.url).create()
        journal_changes(self._layout.catalog_file)  # what job clusters' tasks wrote
        if self._journal_version() != self._catalog_version:
            self._catalog_version = self._journal_version()
            self._compute.refresh_catalog()
        return self._spark

    def _execute(self, statement: Statement) -> None:
        catalog = statement.catalog or (statement.session and statement.session.catalog)
        if not catalog or catalog == SPARK_SESSION_CATALOG:
            catalog = HIVE_METASTORE
        if catalog not in UnityCatalog(self._layout).spark_catalogs():
            raise StatementError(
                f"[NO_SUCH_CATALOG_EXCEPTION] Catalog '{catalog}' was not found. Create it with "
                "the Catalogs API (POST /api/2.1/unity-catalog/catalogs) or `serve --catalog`."
            )
        spark = self._session()
        spark.sql(f"USE CATALOG {_quote(catalog)}")
        schema = statement.schema or "default"
        session_schema = statement.session and statement.session.schema
        if not statement.schema and session_schema and spark.catalog.databaseExists(session_schema):
            # A session may name a schema its first statements create (dbt does).
            schema = session_schema
        spark.sql(f"USE SCHEMA {_quote(schema)}")
        text = bind_parameters(statement.text, statement.parameters)
        selective_overwrite.refuse_rows_outside(spark, text, spark.sql)
        frame = spark.sql(text)
        if statement.row_limit:
            frame = frame.limit(statement.row_limit + 1)
        if statement.done:  # canceled while the compute started: its interrupt found no query
            return
        rows = frame.collect()
        if statement.state == "CANCELED":
            return
        words = statement.text.split(None, 1)
        keyword = words[0].upper() if words else ""
        if statement.session is not None and keyword == "USE":
            statement.session.schema = spark.catalog.currentDatabase()
        if keyword not in READ_ONLY_KEYWORDS:
            self._compute.sync_catalog()
            self._catalog_version = self._journal_version()
        statement.manifest, statement.result = _render(frame.schema, rows, statement)

    def _journal_version(self) -> float:
        journal = self._layout.catalog_file
        return journal.stat().st_mtime if journal.exists() else 0.0


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _render(schema: Any, rows: list[Any], statement: Statement):
    """The manifest and one INLINE JSON_ARRAY chunk, cut at row_limit and byte_limit."""
    columns = []
    for position, column in enumerate(schema.fields):
        info = {
            "name": column.name,
            "type_text": column.dataType.simpleString().upper(),
            "type_name": _TYPE_NAMES.get(column.dataType.typeName(), "USER_DEFINED_TYPE"),
            "position": position,
        }
        if info["type_name"] == "DECIMAL":
            info |= {"type_precision": column.dataType.precision,
                     "type_scale": column.dataType.scale}
        if column.dataType.typeName().startswith("interval"):
            info["type_name"] = "INTERVAL"
        columns.append(info)
    truncated = bool(statement.row_limit) and len(rows) > statement.row_limit
    data = [[_text(value) for value in row] for row in rows[: statement.row_limit or None]]
    limit = min(statement.byte_limit or INLINE_LIMIT_BYTES, INLINE_LIMIT_BYTES)
    kept, size = 0, 2
    for row in data:
        if size + len(json.dumps(row)) + 1 > limit:
            break
        kept, size = kept + 1, size + len(json.dumps(row)) + 1
    if kept < len(data):
        if not statement.byte_limit:
            raise StatementError(
                f"The result is over the {INLINE_LIMIT_BYTES} bytes of an INLINE result and the "
                "local warehouse has no EXTERNAL_LINKS: set row_limit or byte_limit, or select "
                "less"
            )
        data, truncated = data[:kept], True
    byte_count = len(json.dumps(data))
    chunk = {"chunk_index": 0, "row_offset": 0, "row_count": len(data)}
    manifest = {
        "format": "JSON_ARRAY",
        "schema": {"column_count": len(columns), "columns": columns},
        "total_chunk_count": 1,
        "chunks": [chunk | {"byte_count": byte_count}],
        "total_row_count": len(data),
        "total_byte_count": byte_count,
        "truncated": truncated,
    }
    return manifest, chunk | {"byte_count": byte_count, "data_array": data}


def _text(value: Any) -> str | None:
    """A value as Databricks' JSON_ARRAY format gives it: a string, or null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        return value.isoformat(timespec="milliseconds") + ("Z" if value.tzinfo is None else "")
    if isinstance(value, datetime.date | decimal.Decimal | int | float | str):
        return value.isoformat() if isinstance(value, datetime.date) else str(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    return json.dumps(_plain(value))


def _plain(value: Any) -> Any:
    """Nested values (arrays, maps, structs) as JSON-ready Python values."""
    if hasattr(value, "asDict"):
        return {k: _plain(v) for k, v in value.asDict().items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, datetime.date | decimal.Decimal):
        return _text(value)
    return value


def _spark_error(error: Exception) -> StatementError:
    """Spark's analysis, parse and runtime errors: BAD_REQUEST with Spark's message, as
    Databricks reports SQL errors; anything else is the emulator's INTERNAL_ERROR."""
    from pyspark.errors import PySparkException

    if isinstance(error, PySparkException):
        return StatementError(str(error).strip())
    trace = traceback.format_exception_only(error)[-1].strip()
    return StatementError(f"Local warehouse error: {trace}", "INTERNAL_ERROR")
