"""Environment for an embedded Airflow 3.3.1 on SQLite, pointed at the local emulator.

`airflow_environment` must be set before Airflow is imported: Airflow reads its configuration
at import time.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from local_stack.emulator_process import EmulatorEndpoint


def new_key() -> str:
    """A random 32-byte url-safe base64 key: the format of a Fernet key."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def fernet_key(home: Path) -> str:
    """The key of this home's database: made once (owner-only), so what the UI encrypted in one
    session still decrypts in the next."""
    key_file = home / "fernet.key"
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(new_key())
    return key_file.read_text().strip()


def airflow_environment(home: Path, dags_folder: Path, api_port: int | None = None
                        ) -> dict[str, str]:
    """Variables for the local stack; the API secret is new on every start. The api-server's
    port defaults to AIRFLOW_API_PORT or 8080; tasks reach the execution API on the same one."""
    home.mkdir(parents=True, exist_ok=True)
    port = str(api_port or os.environ.get("AIRFLOW_API_PORT", "8080"))
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__FERNET_KEY": fernet_key(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": port,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": "8793",
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": "8794",
        "AIRFLOW__API_AUTH__JWT_SECRET": new_key(),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "DATAPLATFORM_ENV": "local",
    }


def databricks_connection(emulator: EmulatorEndpoint, environment: str = "local") -> dict[str, str]:
    """An environment's Databricks connection (default `local`) to the emulator as an
    AIRFLOW_CONN_* variable: read when a hook needs it (so it may be set after Airflow is
    imported), and the only way the triggers that `dag.test()` runs inline find it."""
    from dataplatform import load_environment

    conn_id = load_environment(environment).databricks.conn_id
    return {f"AIRFLOW_CONN_{conn_id.upper()}": emulator.airflow_connection()}


def migrate_database() -> None:
    """`airflow db migrate`, in this process (Airflow is already importable here)."""
    from airflow.cli.cli_parser import get_parser

    args = get_parser().parse_args(["db", "migrate"])
    args.func(args)
