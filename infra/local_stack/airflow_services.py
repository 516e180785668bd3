"""Airflow's services (api-server, scheduler, dag-processor, triggerer), each bound to 127.0.0.1,
as child process groups of this process.

`airflow standalone` starts a log server on every interface; these services read task logs
from the shared local AIRFLOW_HOME instead, so nothing listens beyond loopback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from local_stack.processes import stop_with_parent

SERVICES = {
    "api-server": ["api-server", "--host", "127.0.0.1", "--port", "{port}"],
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
}

# A laptop stack on two cores, not a fleet: a few task slots, short polling, the DAG folder
# re-listed often (files still re-parsed at Airflow's default interval).
SERVICE_SETTINGS = {
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    "AIRFLOW__CORE__PARALLELISM": "4",
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
    "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
    "AIRFLOW__API__WORKERS": "1",
    # A database error's answer names the original error (e.g. SQLite's "database is locked", which
    # clients ask again after) instead of only an id to look up in the api-server's log.
    "AIRFLOW__API__EXPOSE_STACKTRACE": "True",
    # Every session opens its own SQLite connection and closes it. With Airflow's pool, a request
    # that SQLite refused ("database is locked" while creating a backfill) handed its connection
    # back still inside its transaction: later requests on it read the database as it was then
    # and had their writes refused at once, for minutes.
    "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_ENABLED": "False",
    # A worker notices that its task process exited (e.g. after deferring) within this many
    # seconds, not Airflow's 5. Airflow 3.3.1's scheduler fails a resumed deferrable task when the
    # worker's "success" for the deferring try arrives after the resumed try started running
    # (apache/airflow#72716): with a Databricks task that ends within seconds, 5 s let that
    # happen to dbt model tasks (no retries: the DAG run failed) and ingest (an extra try).
    # Running tasks also heartbeat this often: a few small writes a second at most.
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
}


class AirflowServices:
    """`with AirflowServices(port, log_dir, env):` runs every service (`env` is their whole
    environment); on exit each process group gets SIGTERM, then SIGKILL after 30 s."""

    def __init__(self, port: int | str, log_dir: Path, env: Mapping[str, str]) -> None:
        self.port, self.log_dir, self.env = str(port), log_dir, {**env, **SERVICE_SETTINGS}
        self.processes: dict[str, subprocess.Popen] = {}

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def __enter__(self) -> AirflowServices:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            for name, args in SERVICES.items():
                argv = [sys.executable, "-m", "airflow", *(a.format(port=self.port) for a in args)]
                with self.log_file(name).open("ab") as log:  # the child keeps its own handle
                    self.processes[name] = subprocess.Popen(
                        argv, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                        start_new_session=True, preexec_fn=stop_with_parent,
                    )  # fmt: skip
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def exited(self) -> str | None:
        """The name of a service that has exited, if any."""
        return next((name for name, p in self.processes.items() if p.poll() is not None), None)

    def check_running(self) -> None:
        if exited := self.exited():
            raise RuntimeError(f"Airflow's {exited} exited; see {self.log_file(exited)}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
