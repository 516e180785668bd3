"""SQL Warehouses, Statement Execution and SEA session handlers, over the one local warehouse.

Requests are checked against the SDK's WarehousesAPI / StatementExecutionAPI methods; the
session endpoints (and the session_id a statement may carry) are what databricks-sql-connector's
SEA backend (`connect(..., use_sea=True)`) sends. Results are INLINE JSON_ARRAY only: the
EXTERNAL_LINKS disposition needs cloud storage URLs the emulator does not have, so it is refused.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from databricks.sdk.service import sql

from local_databricks.errors import ApiError, invalid, not_found
from local_databricks.sql_warehouse import (
    WAREHOUSE_ID,
    WAREHOUSE_NAME,
    Session,
    Statement,
    Warehouse,
)
from local_databricks.validation import request_schema

STATEMENTS = sql.StatementExecutionAPI
WAREHOUSES = sql.WarehousesAPI
# What the SEA backend adds to an execute request.
SEA_STATEMENT_FIELDS = {"session_id": str | None, "result_compression": str | None}
SESSION_CREATE = {
    "warehouse_id": str,
    "session_confs": dict[str, str] | None,
    "catalog": str | None,
    "schema": str | None,
}
SESSION_DELETE = {"session_id": str, "warehouse_id": str | None}
STATEMENT_CLOSE = {"statement_id": str}
NO_EXTERNAL_LINKS = (
    "disposition EXTERNAL_LINKS is not supported by the local warehouse: it has no cloud storage "
    "to link results from. Use disposition INLINE with format JSON_ARRAY (results up to 25 MiB); "
    "databricks-sql-connector: connect(..., use_cloud_fetch=False)"
)


class SqlApi:
    def __init__(self, warehouse: Warehouse, base_url: str) -> None:
        self.warehouse, self.base_url = warehouse, base_url
        self._lock = threading.Lock()
        self._statements: dict[str, Statement] = {}
        self._sessions: dict[str, Session] = {}

    def routes(self) -> list[tuple[str, re.Pattern[str], dict[str, Any] | None, Any]]:
        """(HTTP method, path pattern after /api/2.x/, request schema or None, handler).

        Named groups of the pattern are path parameters, merged into the request body."""
        statement = r"sql/statements/(?P<statement_id>[^/]+)"
        warehouse = r"sql/warehouses/(?P<id>[^/]+)"
        table = [
            ("GET", r"sql/warehouses", request_schema("list", WAREHOUSES), self.list_warehouses),
            ("GET", warehouse, request_schema("get", WAREHOUSES), self.get_warehouse),
            ("POST", warehouse + "/start", request_schema("start", WAREHOUSES), self.start),
            ("POST", warehouse + "/stop", request_schema("stop", WAREHOUSES), self.stop),
            ("POST", r"sql/warehouses", None, self.refuse_warehouse_change),
            ("POST", warehouse + "/edit", None, self.refuse_warehouse_change),
            ("DELETE", warehouse, None, self.refuse_warehouse_change),
            (
                "POST",
                r"sql/statements",
                request_schema("execute_statement", STATEMENTS) | SEA_STATEMENT_FIELDS,
                self.execute,
            ),
            ("GET", statement, request_schema("get_statement", STATEMENTS), self.get_statement),
            (
                "POST",
                statement + "/cancel",
                request_schema("cancel_execution", STATEMENTS),
                self.cancel,
            ),
            ("DELETE", statement, STATEMENT_CLOSE, self.close),
            (
                "GET",
                statement + r"/result/chunks/(?P<chunk_index>\d+)",
                request_schema("get_statement_result_chunk_n", STATEMENTS),
                self.get_chunk,
            ),
            ("POST", r"sql/sessions", SESSION_CREATE, self.create_session),
            ("DELETE", r"sql/sessions/(?P<session_id>[^/]+)", SESSION_DELETE, self.delete_session),
        ]
        return [(method, re.compile(path), schema, handler)
                for method, path, schema, handler in table]

    # -- warehouses ------------------------------------------------------------------------

    def _check_warehouse(self, warehouse_id: str) -> None:
        if warehouse_id != WAREHOUSE_ID:
            raise not_found(
                f"SQL warehouse {warehouse_id} does not exist. The emulator has one local SQL "
                f"warehouse, id {WAREHOUSE_ID} (GET /api/2.0/sql/warehouses lists it)"
            )

    def describe(self) -> dict[str, Any]:
        host, _, port = self.base_url.removeprefix("http://").partition(":")
        path = f"/sql/1.0/warehouses/{WAREHOUSE_ID}"
        return {
            "id": WAREHOUSE_ID,
            "name": WAREHOUSE_NAME,
            "state": self.warehouse.state,
            "cluster_size": "2X-Small",
            "min_num_clusters": 1,
            "max_num_clusters": 1,
            "num_clusters": 1 if self.warehouse.state == "RUNNING" else 0,
            "auto_stop_mins": 0,
            "warehouse_type": "PRO",
            "enable_serverless_compute": True,
            "creator_name": "local",
            "health": {"status": "HEALTHY"},
            "odbc_params": {"hostname": host, "path": path, "protocol": "http", "port": int(port)},
            "jdbc_url": f"jdbc:databricks://{host}:{port}/default;transportMode=http;"
            f"ssl=0;AuthMech=3;httpPath={path}",
        }

    def list_warehouses(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"warehouses": [self.describe()]}

    def get_warehouse(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_warehouse(body["id"])
        return self.describe()

    def start(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_warehouse(body["id"])
        self.warehouse.start()
        return {}

    def stop(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_warehouse(body["id"])
        self.warehouse.stop()
        return {}

    def refuse_warehouse_change(self, body: dict[str, Any]) -> dict[str, Any]:
        raise ApiError(
            501,
            "NOT_IMPLEMENTED",
            f"The emulator has one fixed local SQL warehouse (id {WAREHOUSE_ID}); creating, "
            "editing or deleting warehouses is not emulated. Use that warehouse's id.",
        )

    # -- statements ------------------------------------------------------------------------

    def execute(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_warehouse(body["warehouse_id"])
        wait = _wait_seconds(body.get("wait_timeout", "10s"))
        disposition = body.get("disposition", "INLINE")
        if disposition != "INLINE":
            raise invalid(NO_EXTERNAL_LINKS)
        if body.get("format", "JSON_ARRAY") != "JSON_ARRAY":
            raise invalid(
                f"format {body['format']} needs disposition EXTERNAL_LINKS, which the local "
                "warehouse does not support; use format JSON_ARRAY"
            )
        session = None
        if "session_id" in body:
            session = self._session(body["session_id"])
        statement = Statement(
            text=body["statement"],
            parameters=body.get("parameters", []),
            catalog=body.get("catalog"),
            schema=body.get("schema"),
            row_limit=body.get("row_limit"),
            byte_limit=body.get("byte_limit"),
            session=session,
        )
        with self._lock:
            self._statements[statement.statement_id] = statement
        self.warehouse.submit(statement)
        if wait:
            statement.wait(wait)
            if not statement.done and body.get("on_wait_timeout") == "CANCEL":
                self.warehouse.cancel(statement)
        return _response(statement)

    def _statement(self, statement_id: str) -> Statement:
        with self._lock:
            statement = self._statements.get(statement_id)
        if statement is None:
            raise not_found(f"Statement {statement_id} does not exist")
        return statement

    def get_statement(self, body: dict[str, Any]) -> dict[str, Any]:
        return _response(self._statement(body["statement_id"]))

    def cancel(self, body: dict[str, Any]) -> dict[str, Any]:
        self.warehouse.cancel(self._statement(body["statement_id"]))
        return {}

    def close(self, body: dict[str, Any]) -> dict[str, Any]:
        self.warehouse.close(self._statement(body["statement_id"]))
        return {}

    def get_chunk(self, body: dict[str, Any]) -> dict[str, Any]:
        statement = self._statement(body["statement_id"])
        if statement.state != "SUCCEEDED":
            raise invalid(
                f"Statement {statement.statement_id} is {statement.state}: it has no result"
            )
        if body["chunk_index"] != 0:
            raise invalid(
                f"chunk_index {body['chunk_index']} is out of range: the result has 1 chunk"
            )
        return statement.result

    # -- SEA sessions ----------------------------------------------------------------------

    def create_session(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_warehouse(body["warehouse_id"])
        session = Session(catalog=body.get("catalog"), schema=body.get("schema"))
        with self._lock:
            self._sessions[session.session_id] = session
        return {"session_id": session.session_id}

    def _session(self, session_id: str) -> Session:
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None:
            raise not_found(f"Session {session_id} does not exist or was closed")
        return session

    def delete_session(self, body: dict[str, Any]) -> dict[str, Any]:
        self._session(body["session_id"])
        with self._lock:
            del self._sessions[body["session_id"]]
        return {}


def _wait_seconds(wait_timeout: str) -> int:
    match = re.fullmatch(r"(\d+)s", wait_timeout)
    seconds = int(match.group(1)) if match else -1
    if seconds != 0 and not 5 <= seconds <= 50:
        raise invalid(
            f"wait_timeout {wait_timeout!r} is invalid: use 0s (asynchronous) or 5s to 50s"
        )
    return seconds


def _response(statement: Statement) -> dict[str, Any]:
    status: dict[str, Any] = {"state": statement.state}
    if statement.error:
        status["error"] = statement.error
    response = {"statement_id": statement.statement_id, "status": status}
    if statement.state == "SUCCEEDED":
        response |= {"manifest": statement.manifest, "result": statement.result}
    return response
