"""Child-process entry of one Sail compute: start a Spark Connect server, report its port, wait.

Run with the warehouse directory as the working directory: Sail writes managed tables under
./spark-warehouse relative to it. Prints one JSON line {"port": N} once listening and serves
until SIGTERM.

The catalog is named hive_metastore, as on a Databricks workspace without Unity Catalog, so
three-part names (hive_metastore.schema.table) and `SHOW SCHEMAS IN hive_metastore` resolve.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from pysail.spark import SparkConnectServer

CATALOG = "hive_metastore"
SAIL_CATALOG = {
    "SAIL_CATALOG__LIST": f'[{{name="{CATALOG}", type="memory", initial_database=["default"], '
    'initial_database_comment="default database"}]',
    "SAIL_CATALOG__DEFAULT_CATALOG": CATALOG,
}


def main() -> None:
    for name, value in SAIL_CATALOG.items():
        os.environ.setdefault(name, value)
    server = SparkConnectServer("127.0.0.1", 0)
    server.start(background=True)
    _, port = server.listening_address
    print(json.dumps({"port": port}), flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    server.stop()
    sys.exit(0)


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
