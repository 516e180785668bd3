"""Child-process entry of one Sail compute: start a Spark Connect server, report its port, wait.

`python -m local_databricks.sail_server STATE_DIR SESSION_ID`, run with the warehouse directory
as the working directory; the engine points the session's managed tables at its absolute
./spark-warehouse (`catalog.set_table_defaults`).
Prints one JSON line {"port": N} once listening and serves until SIGTERM.

The catalog is named hive_metastore, as on a Databricks workspace without Unity Catalog, so
three-part names (hive_metastore.schema.table) and `SHOW SCHEMAS IN hive_metastore` resolve.

A compute whose server died (killed, not stopped) journals its tables itself before it stops,
as a metastore keeps the tables of a run whose driver was lost: session SESSION_ID is the one the
server's tasks used.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from pysail.spark import SparkConnectServer

from local_databricks.layout import StateLayout
from local_databricks.lifeline import exit_with_parent

CATALOG = "hive_metastore"
SAIL_CATALOG = {
    "SAIL_CATALOG__LIST": f'[{{name="{CATALOG}", type="memory", initial_database=["default"], '
    'initial_database_comment="default database"}]',
    "SAIL_CATALOG__DEFAULT_CATALOG": CATALOG,
}


def main(state_dir: str, session_id: str) -> None:
    for name, value in SAIL_CATALOG.items():
        os.environ.setdefault(name, value)
    parent = os.getppid()
    exit_with_parent(lambda: os.kill(os.getpid(), signal.SIGTERM))
    server = SparkConnectServer("127.0.0.1", 0)
    server.start(background=True)
    _, port = server.listening_address
    print(json.dumps({"port": port}), flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    if os.getppid() != parent:
        _journal_tables(StateLayout(Path(state_dir)), port, session_id)
    server.stop()
    sys.exit(0)


def _journal_tables(layout: StateLayout, port: int, session_id: str) -> None:
    # Imported here: only an orphaned compute needs a Spark client.
    from local_databricks import catalog
    from local_databricks.engine import compute_url

    try:
        catalog.snapshot(
            compute_url(port, session_id), layout.catalog_file, layout.warehouse, known=set()
        )
    except Exception as error:  # noqa: BLE001 - the compute stops either way
        print(f"tables of the lost server's session not journalled: {error}", file=sys.stderr)


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main(*sys.argv[1:])
