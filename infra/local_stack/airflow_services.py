"""Airflow's services for interactive local use, each bound to 127.0.0.1.

`airflow standalone` starts a log server on every interface; these services read task logs
from the shared local AIRFLOW_HOME instead, so nothing listens beyond loopback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SERVICES = {
    "api-server": ["api-server", "--host", "127.0.0.1", "--port", "{port}"],
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
}


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run_services(port: str, log_dir: Path) -> int:
    """Start every service, wait until one exits or Ctrl-C (or SIGTERM), then stop them all."""
    # Airflow's imports replace the default handlers; stopping must not depend on them.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    log_dir.mkdir(parents=True, exist_ok=True)
    processes = {}
    for name, args in SERVICES.items():
        argv = [sys.executable, "-m", "airflow", *(a.format(port=port) for a in args)]
        with (log_dir / f"{name}.log").open("ab") as log:  # the child keeps its own handle
            processes[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                               start_new_session=True)
        print(f"local stack: {name} started (log {log_dir / f'{name}.log'})", flush=True)
    try:
        while all(p.poll() is None for p in processes.values()):
            time.sleep(1)
        exited = next(name for name, p in processes.items() if p.poll() is not None)
        print(f"local stack: {exited} exited; see {log_dir / f'{exited}.log'}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        print("local stack: Airflow stopped", flush=True)
