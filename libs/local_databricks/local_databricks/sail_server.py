"""Child-process entry of one Sail compute: start a Spark Connect server, report its port, wait.

Run with the warehouse directory as the working directory: Sail writes managed tables under
./spark-warehouse relative to it. Prints one JSON line {"port": N} once listening and serves
until SIGTERM.
"""

from __future__ import annotations

import json
import signal
import sys

from pysail.spark import SparkConnectServer


def main() -> None:
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
