"""Start and stop the local Databricks emulator as a child process group."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from local_stack.processes import stop_with_parent


@dataclass(frozen=True)
class EmulatorEndpoint:
    host: str
    port: int
    token: str
    # The service principal the emulator signs in with OAuth M2M (unknown for a server this
    # process did not start).
    client_id: str = ""
    client_secret: str = field(default="", repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def airflow_connection(self) -> str:
        """The AIRFLOW_CONN_* value the provider needs: http on loopback, token as password."""
        return json.dumps({"conn_type": "databricks", "host": self.host, "port": self.port,
                           "schema": "http", "password": self.token})

    def get(self, path: str, **query: object) -> dict:
        """The JSON answer of a GET to the emulator (e.g. /api/2.2/jobs/runs/get, run_id=N)."""
        suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
        request = urllib.request.Request(f"{self.url}{path}{suffix}",
                                         headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def usage(self) -> dict:
        return self.get("/emulator/usage")


class EmulatorProcess:
    """The emulator PEX run on this interpreter; its process group is killed on exit."""

    def __init__(self, pex: Path, state_dir: Path, log_file: Path) -> None:
        self.pex, self.state_dir, self.log_file = pex, state_dir, log_file
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> EmulatorEndpoint:
        if not self.pex.is_file():
            raise FileNotFoundError(f"emulator PEX {self.pex} not found: run "
                                    f"`./pants package libs/local_databricks:emulator`")
        server_file = self.state_dir / "server.json"
        server_file.unlink(missing_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(self.pex), "serve", "--host", "127.0.0.1", "--port", "0",
                 "--state-dir", str(self.state_dir), "--exit-with-parent"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={k: v for k, v in os.environ.items() if not k.startswith("PEX")},
                preexec_fn=stop_with_parent,
            )
        try:
            deadline = time.monotonic() + 60
            while not server_file.exists():
                if self.process.poll() is not None:
                    raise RuntimeError(f"the emulator exited with {self.process.returncode}; "
                                       f"see {self.log_file}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the emulator did not start within 60 s; "
                                       f"see {self.log_file}")
                time.sleep(0.1)
            info = json.loads(server_file.read_text())
        except BaseException:  # Ctrl-C included: never leave the server running
            self.__exit__(None, None, None)
            raise
        return EmulatorEndpoint(info["host"], info["port"], info["token"], info["client_id"],
                                info["client_secret"])

    def __exit__(self, *exc_info) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
