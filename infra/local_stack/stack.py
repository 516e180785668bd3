"""The whole local stack, headless: the emulator (notebooks and wheels published to it), a migrated
SQLite Airflow home, and Airflow's api-server, scheduler, dag-processor and triggerer, all on
loopback, with a REST client. `infra/bin/local up` and `backfill` run it, and so do the tests
that drive Airflow the way MWAA runs it.

Airflow runs only in child processes here (its configuration is their environment), so a caller
may already have imported Airflow with another configuration.
"""

from __future__ import annotations

import contextlib

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from local_stack.airflow_api import AirflowApi, wait_until
from local_stack.airflow_home import airflow_environment, databricks_connection
from local_stack.airflow_services import AirflowServices
from local_stack.emulator_process import EmulatorEndpoint, EmulatorProcess
from local_stack.publish import publish


@dataclass(frozen=True)
class StackConfig:
    emulator_pex: Path | None  # None when `emulator` is given
    state_dir: Path  # emulator state, Airflow home and logs live below it
    dags_folder: Path
    notebooks: Sequence[Path] = ()
    wheels: Sequence[Path] = ()
    api_port: int = 0  # 0: a free port
    env: Mapping[str, str] = field(default_factory=dict)  # more variables for Airflow's services
    emulator: EmulatorEndpoint | None = None  # one already serving (compose); else emulator_pex


@dataclass(frozen=True)
class RunningStack:
    emulator: EmulatorEndpoint
    api: AirflowApi
    services: AirflowServices
    log_dir: Path

    def wait_for_dags(self, dag_ids: Sequence[str], timeout: float = 180) -> None:
        """Until the dag-processor has serialized every one of `dag_ids`; an import error of
        the bundle fails at once with its message."""

        def parsed() -> bool:
            self.services.check_running()
            errors, known = self.api.import_errors(), self.api.dag_ids()
            if errors:
                details = "\n".join(f"{e['filename']}: {e['stack_trace']}" for e in errors)
                raise RuntimeError(f"the DAG bundle has import errors:\n{details}")
            return set(dag_ids) <= set(known)

        wait_until(parsed, timeout, f"the dag-processor to parse {', '.join(dag_ids)}", 1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def local_stack(config: StackConfig, progress: Callable[[str], None] = print
                ) -> Iterator[RunningStack]:
    """Start everything, yield once the api-server is healthy; stop everything on exit."""
    state_dir = config.state_dir.resolve()
    log_dir = state_dir / "logs"
    port = config.api_port or free_port()
    emulator_running = (
        contextlib.nullcontext(config.emulator) if config.emulator is not None
        else EmulatorProcess(config.emulator_pex, state_dir / "databricks",
                             log_dir / "emulator.log")
    )
    with emulator_running as emulator:
        progress(f"emulator on {emulator.url}; "
                 f"{publish(emulator, list(config.notebooks), list(config.wheels))}")
        env = {
            **os.environ,
            **airflow_environment(state_dir / "airflow", config.dags_folder.resolve(), port),
            **databricks_connection(emulator),
            **config.env,
        }
        migrate(env, log_dir / "airflow-db-migrate.log")
        progress("Airflow database ready; starting api-server, scheduler, dag-processor, "
                 f"triggerer (logs in {log_dir})")
        with AirflowServices(port, log_dir, env) as services:
            api = AirflowApi(f"http://127.0.0.1:{port}")

            def healthy() -> bool:
                services.check_running()
                return api.healthy()

            wait_until(healthy, 180, f"Airflow's api-server on port {port}", 1)
            yield RunningStack(emulator, api, services, log_dir)


def migrate(env: Mapping[str, str], log_file: Path) -> None:
    """`airflow db migrate` in a child process; its output goes to `log_file`."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=dict(env),
                              stdout=log, stderr=subprocess.STDOUT, check=False)
    if done.returncode:
        raise RuntimeError(f"airflow db migrate failed ({done.returncode}); see {log_file}")
