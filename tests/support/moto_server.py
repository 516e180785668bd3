"""moto's server for tests: on a free loopback port, in its own process group, stopped by it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

LISTENING = re.compile(r"Running on (http://127\.0\.0\.1:\d+)")


@contextmanager
def moto_server(
    command: list[str], log: Path, env: Mapping[str, str] | None = None, timeout: float = 60
) -> Iterator[str]:
    """Run `command` (moto's server; `-H 127.0.0.1 -p 0` are added) and yield its URL, read
    from the line it prints once it listens."""
    with log.open("w") as sink:
        server = subprocess.Popen(
            [*command, "-H", "127.0.0.1", "-p", "0"],
            stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
            env=dict(env) if env is not None else None,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while not (found := LISTENING.search(log.read_text())):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto server did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield found.group(1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
