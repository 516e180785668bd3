"""Command line.

`python -m local_databricks serve --port N --state-dir DIR [--token T]`: the API server; it also
signs in one service principal with OAuth M2M (`--client-id`/`--client-secret`, default random).
`python -m local_databricks compute --state-dir DIR`: one compute for tools such as dbt; prints
{"spark_remote": ...} (also written to DIR/compute.json).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import sys
import threading
from pathlib import Path

from local_databricks.cluster_pool import MAX_CLUSTERS_ENV, ClusterPool, default_max_clusters
from local_databricks.clusters_api import ClustersApi, ClusterStore
from local_databricks.engine import ENGINES, make_engine
from local_databricks.errors import ApiError
from local_databricks.faults import FaultInjector, parse_cli_fault
from local_databricks.jobs_api import JobsApi, JobStore
from local_databricks import limits
from local_databricks.layout import StateLayout, hold_state_dir, write_private
from local_databricks.lifeline import exit_with_parent
from local_databricks.oauth import OAuthServer, ServicePrincipal
from local_databricks.processes import ProcessLedger
from local_databricks.run_links import RunLinks
from local_databricks.scheduler import Scheduler
from local_databricks.secrets import SecretStore
from local_databricks.secrets_api import SecretsApi
from local_databricks.server import Emulator, make_server
from local_databricks.unity_catalog import UnityCatalog
from local_databricks.unity_catalog_api import UnityCatalogApi
from local_databricks.sql_api import SqlApi
from local_databricks.sql_warehouse import Warehouse
from local_databricks.store import check_json_files, write_json
from local_databricks.usage import UsageLedger
from local_databricks.workspace import WorkspaceApi


def serve(args: argparse.Namespace) -> None:
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    layout = StateLayout(Path(args.state_dir).resolve()).create()
    if args.exit_with_parent:
        exit_with_parent(lambda: os.kill(os.getpid(), signal.SIGTERM), death_signal=True)
    hold_state_dir(layout)
    check_json_files([*layout.root.glob("*.json"), layout.catalog_file])
    for leftover in ProcessLedger(layout.processes_file).end_orphans():
        logging.warning("stopped %s, left running by a server that was killed", leftover)
    token = args.token or os.environ.get("LOCAL_DATABRICKS_TOKEN") or secrets.token_urlsafe(24)
    principal = service_principal(args)
    faults = FaultInjector()
    for text in args.fault:
        faults.add(parse_cli_fault(text))
    usage = UsageLedger(layout.usage_file)
    clusters = ClusterStore(layout.root / "clusters.json")
    engine = make_engine(args.engine, layout)
    warehouse = Warehouse(engine, layout)
    pool = ClusterPool(args.max_clusters)
    workspace_limits = limits.from_arguments(args)
    scheduler = Scheduler(layout, engine, faults, usage, clusters, warehouse, pool)
    scheduler.execution_contexts = limits.ExecutionContexts(
        workspace_limits.execution_contexts_per_cluster
    )
    links = RunLinks.load(layout.run_links_key)
    jobs_api = JobsApi(
        JobStore(layout.root / "jobs.json"), scheduler, clusters, links, limits=workspace_limits
    )
    sql_api = SqlApi(warehouse, base_url="")
    unity_catalog = UnityCatalog(layout)
    for name in args.catalog:
        try:
            unity_catalog.ensure_catalog(name)
        except ApiError as error:
            raise ValueError(f"--catalog {name}: {error.message}") from None
    apis = (SecretsApi(SecretStore(layout)), UnityCatalogApi(unity_catalog, layout.catalog_file))
    emulator = Emulator(
        token,
        scheduler,
        jobs_api,
        ClustersApi(clusters),
        WorkspaceApi(layout),
        faults,
        usage,
        apis,
        sql_api,
        OAuthServer(principal),
    )
    httpd = make_server(
        args.host, args.port, emulator, args.in_container, tuple(args.allowed_host)
    )
    host, port = httpd.server_address[:2]
    base_url = f"http://{host}:{port}"
    links.base_url = sql_api.base_url = base_url
    info = {"url": base_url, "host": host, "port": port, "token": token, "pid": os.getpid(),
            "client_id": principal.client_id, "client_secret": principal.client_secret}
    write_private(layout.server_file, json.dumps(info))
    print(f"local databricks serving on {base_url} (state {layout.root})", flush=True)

    def stop(signum, frame):
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        scheduler.shutdown()
        warehouse.stop()
        httpd.server_close()


def service_principal(args: argparse.Namespace) -> ServicePrincipal:
    """The principal OAuth M2M signs in: both flags (or their variables), or neither (random)."""
    client_id = args.client_id or os.environ.get("LOCAL_DATABRICKS_CLIENT_ID")
    client_secret = args.client_secret or os.environ.get("LOCAL_DATABRICKS_CLIENT_SECRET")
    if client_id and client_secret:
        return ServicePrincipal(client_id, client_secret)
    if client_id or client_secret:
        raise ValueError("--client-id and --client-secret (or LOCAL_DATABRICKS_CLIENT_ID and "
                         "LOCAL_DATABRICKS_CLIENT_SECRET) go together: give both, or neither "
                         "for a random service principal")
    return ServicePrincipal.generated()


def compute(args: argparse.Namespace) -> None:
    """Start one compute with the warehouse catalog restored (e.g. for dbt's session method),
    print its SPARK_REMOTE, and serve until SIGTERM, journalling the catalog on the way out."""
    layout = StateLayout(Path(args.state_dir).resolve()).create()
    engine = make_engine(args.engine, layout)
    spark_compute = engine.start("standalone", layout.runs / "standalone-compute.log")
    info = {"spark_remote": spark_compute.url, "pid": os.getpid()}
    write_json(layout.root / "compute.json", info)
    print(json.dumps(info), flush=True)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        spark_compute.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local_databricks")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the Databricks API emulator")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--in-container", action="store_true",
                           help="allow a --host other than loopback (compose publishes the port "
                           "on 127.0.0.1 only)")
    serve_cmd.add_argument("--allowed-host", action="append", default=[],
                           help="a Host name to answer besides 127.0.0.1 and localhost, e.g. "
                           "a compose service name (repeatable; others are refused)")
    serve_cmd.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve_cmd.add_argument("--state-dir", required=True)
    serve_cmd.add_argument(
        "--token", help="bearer token (default: LOCAL_DATABRICKS_TOKEN or random)"
    )
    serve_cmd.add_argument(
        "--client-id", help="the OAuth M2M service principal's client id (default: "
        "LOCAL_DATABRICKS_CLIENT_ID or random; written to server.json with its secret)"
    )
    serve_cmd.add_argument(
        "--client-secret",
        help="its OAuth secret (default: LOCAL_DATABRICKS_CLIENT_SECRET or random)",
    )
    serve_cmd.add_argument("--engine", default="sail", choices=sorted(ENGINES))
    serve_cmd.add_argument(
        "--max-clusters",
        type=int,
        default=None,
        help=f"clusters (computes) alive at once; a run waiting for one is PENDING (default: "
        f"{MAX_CLUSTERS_ENV} or 2, what 2 cores carry)",
    )
    serve_cmd.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started the server dies (for launchers and tests; "
        "start the server from a thread that lives as long as that process)",
    )
    serve_cmd.add_argument(
        "--log-level",
        default=os.environ.get("LOCAL_DATABRICKS_LOG_LEVEL", "WARNING"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="DEBUG also logs the request fields the service ignores (default: %(default)s)",
    )
    serve_cmd.add_argument(
        "--catalog",
        action="append",
        default=[],
        help="a Unity Catalog catalog to create at start unless it exists (repeatable)",
    )
    serve_cmd.add_argument(
        "--fault",
        action="append",
        default=[],
        help="e.g. endpoint=jobs/runs/get,status=429,count=2 or run=fail",
    )
    limits.add_arguments(serve_cmd)
    compute_cmd = commands.add_parser("compute", help="run one Spark Connect compute")
    compute_cmd.add_argument("--state-dir", required=True)
    compute_cmd.add_argument("--engine", default="sail", choices=sorted(ENGINES))
    args = parser.parse_args(argv)
    try:
        if args.command == "serve" and args.max_clusters is None:
            args.max_clusters = default_max_clusters()
        {"serve": serve, "compute": compute}[args.command](args)
    except ValueError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
