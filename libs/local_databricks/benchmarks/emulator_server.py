"""Start and stop the emulator for a benchmark: `python -m local_databricks serve` on a free port,
in its own process group, ending with the benchmark."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def start_emulator(
    state_dir: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, dict]:
    """The server process and its server.json info (url, token, pid); output in server.log."""
    log = open(state_dir / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "local_databricks", "serve", "--port", "0",
         "--state-dir", str(state_dir), "--exit-with-parent", *args],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env or os.environ,
    )
    server_file = state_dir / "server.json"
    deadline = time.monotonic() + 60
    while not server_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"emulator did not start; see {state_dir / 'server.log'}")
        time.sleep(0.1)
    time.sleep(0.1)
    return proc, json.loads(server_file.read_text())


def stop_emulator(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(60)
