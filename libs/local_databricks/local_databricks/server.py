"""HTTP front: bearer-token auth, routing to the API handlers, admin and run-page endpoints.

Binds 127.0.0.1 only. /api/2.0, /api/2.1 and /api/2.2 are aliases of one route table. GET
requests take their parameters from the query string and/or a JSON body (the provider's
deferrable trigger sends a body). The run pages (/run/<id>) are read-only HTML for a browser
and need no token.
"""

from __future__ import annotations

import email.parser
import email.policy
import hmac
import json
import re
from base64 import b64encode
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from databricks.sdk.service import catalog, compute, files, jobs, workspace

from local_databricks import run_page
from local_databricks.clusters_api import ClustersApi
from local_databricks.errors import ApiError, invalid, malformed, not_found
from local_databricks.faults import FaultInjector
from local_databricks.jobs_api import JobsApi
from local_databricks.limits import request_api_version
from local_databricks.runtimes import spark_versions
from local_databricks.scheduler import Scheduler
from local_databricks.sql_api import SqlApi
from local_databricks.usage import UsageLedger
from local_databricks.validation import parse_request, request_schema
from local_databricks.workspace import WorkspaceApi

API_PREFIX = re.compile(r"^/api/2\.[012]/(.+)$")
SDK_APIS = {
    "jobs": jobs.JobsAPI,
    "workspace": workspace.WorkspaceAPI,
    "dbfs": files.DbfsAPI,
    "secrets": workspace.SecretsAPI,
    "clusters": compute.ClustersAPI,
    "catalogs": catalog.CatalogsAPI,
    "schemas": catalog.SchemasAPI,
    "volumes": catalog.VolumesAPI,
}


class Emulator:
    """Everything a request handler needs, built once per server."""

    def __init__(
        self,
        token: str,
        scheduler: Scheduler,
        jobs_api: JobsApi,
        clusters_api: ClustersApi,
        workspace_api: WorkspaceApi,
        faults: FaultInjector,
        usage: UsageLedger,
        apis: tuple[Any, ...] = (),
        sql_api: SqlApi | None = None,
    ) -> None:
        self.token, self.scheduler, self.faults, self.usage = token, scheduler, faults, usage
        self.jobs_api, self.workspace_api = jobs_api, workspace_api
        self.routes: dict[tuple[str, str], tuple[dict[str, Any], Any]] = {}
        # Routes with path parameters (unity-catalog/catalogs/{name}, sql/statements/<id>...):
        # (method, pattern, request schema or None, handler).
        self.path_routes: list[tuple[str, re.Pattern[str], dict[str, Any] | None, Any]] = []
        if sql_api is not None:
            self.path_routes += [(m, re.compile(p), sc, h) for m, p, sc, h in sql_api.routes()]
        for (method, path), (method_name, handler) in jobs_api.routes().items():
            self.routes[(method, path)] = (request_schema(method_name), handler)
        for api_handlers in (clusters_api, workspace_api, *apis):
            for (method, path), ((api, method_name), handler) in api_handlers.routes().items():
                schema = request_schema(method_name, SDK_APIS[api])
                if "{" in path:
                    pattern = re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path))
                    self.path_routes.append((method, pattern, schema, handler))
                else:
                    self.routes[(method, path)] = (schema, handler)

    def route(
        self, method: str, path: str
    ) -> tuple[dict[str, Any] | None, Any, dict[str, str]] | None:
        """(request schema, handler, path parameters) of a request, None when there is none."""
        if (method, path) in self.routes:
            return (*self.routes[(method, path)], {})
        for route_method, pattern, schema, handler in self.path_routes:
            match = pattern.fullmatch(path)
            if route_method == method and match:
                return schema, handler, {k: unquote(v) for k, v in match.groupdict().items()}
        return None


class Handler(BaseHTTPRequestHandler):
    server_version = "local-databricks"
    protocol_version = "HTTP/1.1"
    emulator: Emulator  # set on the subclass made by make_server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    # -- plumbing --------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            if url.path == "/.well-known/databricks-config":
                raise ApiError(404, "ENDPOINT_NOT_FOUND", "No workspace config here")
            if url.path.startswith("/run/"):
                return self._run_page(url.path)
            self._authenticate()
            self.emulator.faults.check_endpoint(url.path)
            status, headers, payload = self._route(method, url.path, url.query, data)
        except ApiError as error:
            status, headers = error.status, {"Content-Type": "application/json"}
            payload = json.dumps(error.body()).encode()
        except Exception as error:  # noqa: BLE001 - a handler bug must still answer
            status, headers = 500, {"Content-Type": "application/json"}
            body = {"error_code": "INTERNAL_ERROR", "message": f"{type(error).__name__}: {error}"}
            payload = json.dumps(body).encode()
        self._send(status, headers, payload)

    def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _authenticate(self) -> None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise ApiError(401, "UNAUTHENTICATED", "Missing bearer token in Authorization header")
        if not hmac.compare_digest(header[len("Bearer ") :].encode(), self.emulator.token.encode()):
            raise ApiError(403, "PERMISSION_DENIED", "Invalid access token.")

    def _route(self, method: str, path: str, query: str, data: bytes):
        if path.startswith("/emulator/"):
            return _json(self._admin(method, path, _query(query), data))
        match = API_PREFIX.match(path)
        if not match:
            raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")
        route = match.group(1)
        request_api_version.set(path.split("/")[2])  # limits that differ between versions
        for prefix, handler in (
            ("fs/files/", self.emulator.workspace_api.files),
            ("fs/directories/", self.emulator.workspace_api.directories),
        ):
            if route.startswith(prefix):
                return handler(method, "/" + unquote(route[len(prefix) :]), _query(query), data)
        if route == "clusters/spark-versions" and method == "GET":
            return _json(spark_versions())
        if route.startswith("permissions/jobs/") and method in ("PATCH", "PUT"):
            return _json({})
        found = self.emulator.route(method, route)
        if found is None:
            raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")
        schema, handler, path_parameters = found
        body = self._body(method, query, data) | path_parameters
        return _json(handler(body if schema is None else parse_request(body, schema)))

    def _body(self, method: str, query: str, data: bytes) -> dict[str, Any]:
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            return _multipart(content_type, data)
        body = _query(query)
        if data.strip():
            try:
                parsed = json.loads(data)
            except ValueError as error:
                raise malformed(
                    f"Invalid JSON given in the body of the request - failed to parse given JSON "
                    f"({error})"
                ) from None
            if not isinstance(parsed, dict):
                raise malformed("Invalid JSON given in the body of the request - expected a map")
            body |= parsed
        return body

    def _admin(self, method: str, path: str, query: dict[str, Any], data: bytes) -> dict[str, Any]:
        faults, usage = self.emulator.faults, self.emulator.usage
        if path == "/emulator/faults":
            if method == "POST":
                try:
                    fault = json.loads(data or b"{}")
                except ValueError as error:
                    raise invalid(f"/emulator/faults: the body is not JSON ({error})") from None
                return faults.add(fault)
            if method == "DELETE":
                faults.clear()
            return {"faults": faults.pending()}
        if path == "/emulator/usage" and method == "GET":
            if "run_id" in query:
                run_id = str(query["run_id"])
                if not run_id.isdigit():
                    raise invalid(f"/emulator/usage: run_id must be an integer, got {run_id!r}")
                return usage.run_usage(int(query["run_id"]))
            return usage.totals()
        raise not_found(f"No emulator endpoint {method} {path}")

    def _run_page(self, path: str) -> None:
        match = re.fullmatch(r"/run/(\d+)", path)
        found = self.emulator.scheduler.find(int(match.group(1))) if match else None
        if not found:
            raise not_found(f"No run page at {path}")
        run = found[0]
        html = run_page.render(run, self.emulator.usage.run_usage(run.run_id)).encode()
        self._send(200, {"Content-Type": "text/html; charset=utf-8"}, html)


def _json(body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _query(query: str) -> dict[str, Any]:
    return {
        k: v[-1] if len(v) == 1 else v for k, v in parse_qs(query, keep_blank_values=True).items()
    }


def _multipart(content_type: str, data: bytes) -> dict[str, Any]:
    """Form fields of a multipart body; file parts come back base64 encoded."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + data
    )
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None or name == "content":
            fields[name] = b64encode(payload).decode()
        else:
            fields[name] = payload.decode()
    return fields


def make_server(
    host: str, port: int, emulator: Emulator, in_container: bool = False
) -> ThreadingHTTPServer:
    """Loopback only, unless inside a container whose published port is itself on loopback."""
    if host not in ("127.0.0.1", "localhost", "::1") and not in_container:
        raise ValueError(f"--host {host}: the emulator binds to loopback only (use 127.0.0.1; "
                         "--in-container allows another address inside a container)")
    handler = type("BoundHandler", (Handler,), {"emulator": emulator})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
