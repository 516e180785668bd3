"""The compute seam: start a Spark Connect compute for a cluster, give its URL, stop it.

`SailEngine` (default) runs pysail's Rust Spark Connect server in a child process whose working
directory is the warehouse, and keeps the table catalog through `catalog`. `JvmSparkEngine` runs
Apache Spark's own Connect server with Delta and a Derby metastore under the state dir (its
catalog persists natively); it needs SPARK_HOME and the Delta jars, so it is opt-in.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Protocol

from local_databricks import catalog
from local_databricks.layout import StateLayout
from local_databricks.processes import ProcessLedger
from local_databricks.unity_catalog import HIVE_METASTORE, INITIAL_CATALOG_CONF, UnityCatalog

START_TIMEOUT_SECONDS = 60


class Compute(Protocol):
    url: str

    def sync_catalog(self) -> None:
        """Persist catalog changes so other computes see them."""

    def catalog_changed(self) -> None:
        """A task ended: persist its catalog changes before anyone reads the catalog."""

    def refresh_catalog(self) -> None:
        """Register tables other computes journalled since this one started."""

    def stop(self) -> None: ...


class Engine(Protocol):
    name: str

    def start(
        self, cluster_key: str, log_path: Path, initial_catalog: str = HIVE_METASTORE
    ) -> Compute:
        """`initial_catalog`: where two-level table names resolve on this cluster."""


class EngineStartError(RuntimeError):
    pass


def _stop_group(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM the child's process group, then SIGKILL what is left."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def compute_url(port: int, session_id: str) -> str:
    return f"sc://127.0.0.1:{port}/;session_id={session_id}"


def sail_catalog_settings(catalogs: list[str], initial_catalog: str) -> dict[str, str]:
    """Sail's settings (environment) giving the compute one in-memory catalog per Unity Catalog
    catalog, the cluster's initial catalog as the default one."""
    if initial_catalog not in catalogs:
        raise EngineStartError(
            f"{INITIAL_CATALOG_CONF} is {initial_catalog!r}, which does not exist (catalogs: "
            f"{', '.join(catalogs)}); create it with the Catalogs API or `serve --catalog`"
        )
    entries = ", ".join(
        f'{{name="{name}", type="memory", initial_database=["default"]}}' for name in catalogs
    )
    return {"SAIL_CATALOG__LIST": f"[{entries}]", "SAIL_CATALOG__DEFAULT_CATALOG": initial_catalog}


# Per journal, the Sail computes of this process whose tasks changed their catalog since they
# last journalled it (see journal_changes).
_unjournalled: dict[Path, set[SailCompute]] = {}
_unjournalled_lock = threading.Lock()


def journal_changes(catalog_file: Path) -> None:
    """Journal the catalog changes of this process's computes: call before reading the journal.

    A compute journals when it stops and when someone is about to read the journal (a compute
    starting, the SQL warehouse, a schema delete), not after every task: a journal write
    describes every table of the compute, so writing it per task made a dbt run's cost grow with
    the square of its models (seconds of CPU per task at 300 models). Readers see the same
    tables either way, and a run's clusters have all journalled when it ends.
    """
    with _unjournalled_lock:
        computes = list(_unjournalled.get(catalog_file, ()))
    for compute in computes:
        compute.sync_catalog()


class SailCompute:
    def __init__(self, layout: StateLayout, log_path: Path, initial_catalog: str) -> None:
        self._layout = layout
        self._sync_lock = threading.Lock()  # one journal write at a time, none after stop
        self._catalogs = UnityCatalog(layout).spark_catalogs()
        settings = sail_catalog_settings(self._catalogs, initial_catalog)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        session_id = str(uuid.uuid4())
        with open(log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "local_databricks.sail_server", str(layout.root),
                 session_id],
                cwd=layout.warehouse,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
                env=os.environ | settings | {"PYTHONPATH": child_pythonpath()},
            )
        self._ledger = ProcessLedger(layout.processes_file)
        self._ledger.record(self._proc.pid, f"Sail compute ({log_path})")
        try:
            # One server-side session per compute: Sail's catalog lives in the session.
            self.url = compute_url(self._read_port(log_path), session_id)
            catalog.set_table_defaults(self.url, layout.warehouse / "spark-warehouse")
            self._known = self._restore()
        except BaseException:
            self._stop_process()
            raise

    def _read_port(self, log_path: Path) -> int:
        ready, _, _ = select.select([self._proc.stdout], [], [], START_TIMEOUT_SECONDS)
        line = self._proc.stdout.readline() if ready else b""
        if not line:
            raise EngineStartError(f"Sail did not start; see {log_path}")
        return json.loads(line)["port"]

    def sync_catalog(self) -> None:
        with self._sync_lock:
            self._sync_if_running()

    def _sync_if_running(self) -> None:
        with _unjournalled_lock:
            _unjournalled.get(self._layout.catalog_file, set()).discard(self)
        if self._proc.poll() is None:
            self._known = catalog.snapshot(
                self.url, self._layout.catalog_file, self._layout.warehouse, self._known
            )

    def catalog_changed(self) -> None:
        with _unjournalled_lock:
            _unjournalled.setdefault(self._layout.catalog_file, set()).add(self)

    def _restore(self) -> set[str]:
        """Create this compute's Unity Catalog schemas and register the journalled tables (those
        of the other computes of this process included)."""
        journal_changes(self._layout.catalog_file)
        unity_catalog = UnityCatalog(self._layout)
        schemas = [s["full_name"] for c in self._catalogs[1:] for s in unity_catalog.schemas(c)]
        return catalog.restore(self.url, self._layout.catalog_file, self._catalogs, schemas)

    def refresh_catalog(self) -> None:
        self._known |= self._restore()

    def stop(self) -> None:
        with self._sync_lock:
            try:
                self._sync_if_running()
            finally:
                self._stop_process()

    def _stop_process(self) -> None:
        _stop_group(self._proc)
        self._ledger.forget(self._proc.pid)


class SailEngine:
    name = "sail"

    def __init__(self, layout: StateLayout) -> None:
        self._layout = layout

    def start(
        self, cluster_key: str, log_path: Path, initial_catalog: str = HIVE_METASTORE
    ) -> Compute:
        return SailCompute(self._layout, log_path, initial_catalog)


class JvmSparkCompute:
    def __init__(self, layout: StateLayout, log_path: Path) -> None:
        spark_home = os.environ.get("SPARK_HOME")
        if not spark_home:
            raise EngineStartError("the jvm engine needs SPARK_HOME pointing at a Spark 4 install")
        port = _free_port()
        confs = {
            "spark.connect.grpc.binding.address": "127.0.0.1",
            "spark.connect.grpc.binding.port": str(port),
            "spark.sql.warehouse.dir": str(layout.warehouse),
            "spark.sql.catalogImplementation": "hive",
            "spark.hadoop.javax.jdo.option.ConnectionURL": (
                f"jdbc:derby:;databaseName={layout.root / 'metastore_db'};create=true"
            ),
            "spark.jars.packages": os.environ.get(
                "LOCAL_DATABRICKS_DELTA_PACKAGE", "io.delta:delta-spark_2.13:4.0.0"
            ),
            "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
            "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        }
        args = [f"{spark_home}/sbin/start-connect-server.sh"]
        for key, value in confs.items():
            args += ["--conf", f"{key}={value}"]
        with open(log_path, "ab") as log:
            self._proc = subprocess.Popen(
                args,
                cwd=layout.root,
                stdout=log,
                stderr=log,
                start_new_session=True,
                env=os.environ | {"SPARK_NO_DAEMONIZE": "1"},
            )
        self._ledger = ProcessLedger(layout.processes_file)
        self._ledger.record(self._proc.pid, f"Spark Connect server ({log_path})")
        self.url = f"sc://127.0.0.1:{port}"
        try:
            _wait_for_port(port, self._proc, log_path, timeout=180)
        except BaseException:
            self.stop()
            raise

    def sync_catalog(self) -> None:
        """The Derby metastore already persists the catalog."""

    def catalog_changed(self) -> None:
        """The Derby metastore already persists the catalog."""

    def refresh_catalog(self) -> None:
        """Every compute reads the same Derby metastore."""

    def stop(self) -> None:
        _stop_group(self._proc, grace=30)
        self._ledger.forget(self._proc.pid)


class JvmSparkEngine:
    name = "jvm"

    def __init__(self, layout: StateLayout) -> None:
        self._layout = layout

    def start(
        self, cluster_key: str, log_path: Path, initial_catalog: str = HIVE_METASTORE
    ) -> Compute:
        if initial_catalog != HIVE_METASTORE:
            raise EngineStartError(
                f"the jvm engine has only the {HIVE_METASTORE} catalog; use the sail engine for "
                f"{INITIAL_CATALOG_CONF}={initial_catalog}"
            )
        return JvmSparkCompute(self._layout, log_path)


ENGINES = {"sail": SailEngine, "jvm": JvmSparkEngine}


def make_engine(name: str, layout: StateLayout) -> Engine:
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose one of {sorted(ENGINES)}")
    return ENGINES[name](layout)


def child_pythonpath() -> str:
    """The directory holding the local_databricks package, for child processes."""
    root = str(Path(__file__).resolve().parent.parent)
    extra = os.environ.get("PYTHONPATH")
    return f"{root}{os.pathsep}{extra}" if extra else root


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EngineStartError(f"Spark Connect server exited; see {log_path}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    _stop_group(proc)
    raise EngineStartError(f"Spark Connect server not listening after {timeout}s; see {log_path}")
