"""HTTP front: Host and bearer-token checks, body limits, routing to the API handlers.

A WSGI app on werkzeug's threaded server, bound to 127.0.0.1. /api/2.0, /api/2.1 and /api/2.2
are aliases of one route table. GET requests take their parameters from the query string and/or
a JSON body (the provider's deferrable trigger sends a body). Every request is checked in order
of cost: its Host header (a page on another site that rebinds its name to 127.0.0.1 is
refused), its Content-Length, then its token, and only then is its body read, up to the route's
limit (request_body.py). The run pages (/run/<id>) are HTML for a browser: they take the token or
the signed link runs/get returns (run_links.py). A service principal's OAuth sign-in (oauth.py)
is answered before any token is asked for, as a workspace does; its access tokens are accepted
like the token.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from databricks.sdk.service import catalog, compute, files, jobs, workspace
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from local_databricks import oauth, request_body, run_page
from local_databricks.clusters_api import ClustersApi
from local_databricks.errors import ApiError, invalid, not_found
from local_databricks.faults import FaultInjector
from local_databricks.jobs_api import JobsApi
from local_databricks.limits import request_api_version
from local_databricks.runtimes import spark_versions
from local_databricks.scheduler import Scheduler
from local_databricks.sdk_endpoints import is_databricks_endpoint
from local_databricks.sql_api import SqlApi
from local_databricks.usage import UsageLedger
from local_databricks.validation import parse_int64, parse_request, request_schema
from local_databricks.workspace import RawFile, WorkspaceApi

log = logging.getLogger(__name__)

API_PREFIX = re.compile(r"^/api/2\.[012]/(.+)$")
RUN_PAGE = re.compile(r"/run/([0-9]+)")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
DRAIN_TIMEOUT_SECONDS = 1.0
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
        oauth_server: oauth.OAuthServer | None = None,
    ) -> None:
        self.token, self.scheduler, self.faults, self.usage = token, scheduler, faults, usage
        self.oauth = oauth_server
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
            for (method, path), (sdk_method, handler) in api_handlers.routes().items():
                schema = sdk_method and request_schema(sdk_method[1], SDK_APIS[sdk_method[0]])
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


class EmulatorApp:
    """The WSGI application: one call per request, every failure answered as Databricks does."""

    def __init__(self, emulator: Emulator, allowed_hosts: tuple[str, ...] = LOOPBACK_NAMES):
        self.emulator = emulator
        self.allowed_hosts = {name.lower() for name in allowed_hosts}

    def __call__(self, environ, start_response):
        request = Request(environ)
        # Route on the path as sent (percent-escapes intact), as path parameters may hold '/'.
        path = urlsplit(environ.get("REQUEST_URI") or request.path).path
        try:
            status, headers, payload = self._handle(request, path)
        except ApiError as error:
            status, headers, payload = _error(error)
        except Exception as error:  # noqa: BLE001 - a handler bug must still answer
            log.exception("%s %s failed", request.method, path)
            status, headers, payload = _error(
                ApiError(
                    500,
                    "INTERNAL_ERROR",
                    f"The emulator failed on {request.method} {path} ({type(error).__name__}); "
                    "its log has the details",
                )
            )
        headers.setdefault("Content-Length", str(len(payload)))
        return Response(_sent(payload, environ), status, headers)(environ, start_response)

    def _handle(self, request: Request, path: str) -> tuple[int, dict[str, str], bytes]:
        self._check_host(request)
        request_body.declared_length(request)
        if path.endswith(oauth.HOST_METADATA_PATH) or path in (oauth.DISCOVERY_PATH,
                                                                oauth.TOKEN_PATH):
            return self._oauth(request, path)
        if path.startswith("/run/"):
            return self._run_page(request, path)
        self._authenticate(request)
        self.emulator.faults.check_endpoint(path)
        return self._route(request, path)

    def _check_host(self, request: Request) -> None:
        """Refuse a Host this server is not: a foreign page whose name was rebound to 127.0.0.1
        sends its own name (DNS rebinding)."""
        host = request.environ.get("HTTP_HOST", "")
        name = host.rpartition("]")[0] + "]" if host.startswith("[") else host.partition(":")[0]
        if name.lower() not in self.allowed_hosts:
            raise ApiError(
                403,
                "PERMISSION_DENIED",
                f"Host header {host[:100]!r} is not this server; call it as "
                f"{' or '.join(sorted(self.allowed_hosts))} (with the port)",
            )

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise ApiError(401, "UNAUTHENTICATED", "Missing bearer token in Authorization header")
        token = header[len("Bearer ") :]
        if not (hmac.compare_digest(token.encode(), self.emulator.token.encode())
                or (self.emulator.oauth is not None and self.emulator.oauth.accepts(token))):
            raise ApiError(403, "PERMISSION_DENIED", "Invalid access token.")

    def _oauth(self, request: Request, path: str) -> tuple[int, dict[str, str], bytes]:
        """The unauthenticated sign-in endpoints: host metadata, OIDC discovery, token."""
        server = self.emulator.oauth
        method = "POST" if path == oauth.TOKEN_PATH else "GET"
        if server is None or request.method != method:
            raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{request.method} {path}'")
        base_url = request.host_url.rstrip("/")
        if path.endswith(oauth.HOST_METADATA_PATH):
            return _json(server.host_metadata(base_url))
        if path == oauth.DISCOVERY_PATH:
            return _json(server.discovery(base_url))
        body = request_body.read(request, request_body.DEFAULT_LIMIT)
        no_store = {"Content-Type": "application/json", "Cache-Control": "no-store"}
        try:
            answer = server.issue(request.headers.get("Authorization", ""),
                                  request.headers.get("Content-Type", ""), body)
        except oauth.OAuthError as error:
            return error.status, no_store, json.dumps(error.body()).encode()
        return 200, no_store, json.dumps(answer).encode()

    def _route(self, request: Request, path: str) -> tuple[int, dict[str, str], bytes]:
        method, query = request.method, _query(request)
        if path.startswith("/emulator/"):
            return _json(self._admin(request, path, query))
        match = API_PREFIX.match(path)
        if not match:
            raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")
        route = match.group(1)
        request_api_version.set(path.split("/")[2])  # limits that differ between versions
        limit = request_body.limit_for(route)
        for prefix, handler in (
            ("fs/files/", self.emulator.workspace_api.files),
            ("fs/directories/", self.emulator.workspace_api.directories),
        ):
            if route.startswith(prefix):
                body = request_body.stream(request, limit)
                return handler(method, "/" + unquote(route[len(prefix) :]), query, body)
        if route == "clusters/spark-versions" and method == "GET":
            return _json(spark_versions())
        if route.startswith("permissions/jobs/") and method in ("PATCH", "PUT"):
            return _json({})
        found = self.emulator.route(method, route)
        if found is None and is_databricks_endpoint(method, path):
            raise ApiError(501, "NOT_IMPLEMENTED", f"'{method} {path}' is a Databricks API the "
                           "local emulator does not implement (see the README's list of what it "
                           "emulates)")  # fmt: skip
        if found is None:
            raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")
        schema, handler, path_parameters = found
        body = self._body(request, query, limit) | path_parameters
        answer = handler(body if schema is None else parse_request(body, schema))
        if isinstance(answer, RawFile):
            return 200, {"Content-Type": "application/octet-stream"}, answer.content
        return _json(answer)

    def _body(
        self, request: Request, query: dict[str, Any], limit: request_body.BodyLimit
    ) -> dict[str, Any]:
        if request.mimetype == "multipart/form-data":
            return request_body.form_fields(request, limit)
        data = request_body.read(request, limit)
        return query | request_body.json_fields(data) if data.strip() else query

    def _admin(self, request: Request, path: str, query: dict[str, Any]) -> dict[str, Any]:
        faults, usage, method = self.emulator.faults, self.emulator.usage, request.method
        if path == "/emulator/faults":
            if method == "POST":
                data = request_body.read(request, request_body.DEFAULT_LIMIT)
                return faults.add(request_body.json_fields(data or b"{}"))
            if method == "DELETE":
                faults.clear()
            return {"faults": faults.pending()}
        if path == "/emulator/usage" and method == "GET":
            if "run_id" in query:
                run_id = parse_int64(query["run_id"])
                if run_id is None:
                    raise invalid(
                        f"/emulator/usage: run_id must be an integer, got {query['run_id']!r}"
                    )
                return usage.run_usage(run_id)
            return usage.totals()
        raise not_found(f"No emulator endpoint {method} {path}")

    def _run_page(self, request: Request, path: str) -> tuple[int, dict[str, str], bytes]:
        match = RUN_PAGE.fullmatch(path)
        run_id = parse_int64(match.group(1)) if match else None
        if run_id is None:
            raise not_found(f"No run page at {path}")
        links = self.emulator.jobs_api.links
        if "Authorization" in request.headers:
            self._authenticate(request)
        elif not links.verify(run_id, request.args.get("sig", "")):
            raise ApiError(
                401,
                "UNAUTHENTICATED",
                f"Run page {run_id} needs the bearer token, or the signed link that runs/get "
                "returns as run_page_url",
            )
        found = self.emulator.scheduler.find(run_id)
        if not found:
            raise not_found(f"No run page at {path}")
        run = found[0]
        html = run_page.render(run, self.emulator.usage.run_usage(run.run_id)).encode()
        return 200, {"Content-Type": "text/html; charset=utf-8"}, html


def _sent(payload: bytes, environ: dict[str, Any]):
    """The response body; once it is out, werkzeug reads and drops what is left of a request
    body the handler refused to read. A short timeout keeps a client that stopped sending (but
    keeps the connection open) from holding the thread in that read."""
    yield payload
    connection = environ.get("werkzeug.socket")
    if connection is not None:
        connection.settimeout(DRAIN_TIMEOUT_SECONDS)


def _json(body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _error(error: ApiError) -> tuple[int, dict[str, str], bytes]:
    return error.status, {"Content-Type": "application/json"}, json.dumps(error.body()).encode()


def _query(request: Request) -> dict[str, Any]:
    query = request.environ.get("QUERY_STRING", "")
    return {
        k: v[-1] if len(v) == 1 else v for k, v in parse_qs(query, keep_blank_values=True).items()
    }


class _RequestHandler(WSGIRequestHandler):
    server_version = "local-databricks"  # type: ignore[assignment] - a property upstream
    # Headers and body go out as two writes: without this, Nagle's algorithm holds the body
    # back until the client's delayed ACK (about 40 ms a request).
    disable_nagle_algorithm = True
    # A client that stops sending mid-request frees its thread after this many seconds.
    timeout = 120

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # one line per request would drown the log; errors are still logged


class _Server(ThreadedWSGIServer):
    # Hundreds of clients connecting at once wait in the kernel's queue instead of being reset.
    request_queue_size = 1024


def make_server(
    host: str,
    port: int,
    emulator: Emulator,
    in_container: bool = False,
    allowed_hosts: tuple[str, ...] = (),
) -> ThreadedWSGIServer:
    """Loopback only, unless inside a container whose published port is itself on loopback;
    `allowed_hosts` are Host names answered besides 127.0.0.1 and localhost (e.g. a compose
    service name)."""
    if host not in ("127.0.0.1", "localhost", "::1") and not in_container:
        raise ValueError(f"--host {host}: the emulator binds to loopback only (use 127.0.0.1; "
                         "--in-container allows another address inside a container)")
    app = EmulatorApp(emulator, (*LOOPBACK_NAMES, *allowed_hosts))
    return _Server(host, port, app, _RequestHandler)
