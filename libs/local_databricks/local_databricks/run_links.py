"""Signed links to the run pages (/run/<id>), the run_page_url of runs/get.

A run page shows task logs, so it needs the token; but a browser opening the link from an Airflow
task log cannot send one. The link therefore carries an HMAC of the run id under a key kept
(owner-only) in the state directory: links keep working after a restart, and nobody without the
key can make one for another run.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from local_databricks.layout import write_private


class RunLinks:
    def __init__(self, key: bytes, base_url: str = "") -> None:
        self._key = key
        self.base_url = base_url  # set once the server knows its port

    @classmethod
    def load(cls, key_file: Path) -> RunLinks:
        """The links of a state directory, making its key on first use."""
        if not key_file.exists():
            write_private(key_file, secrets.token_hex(32))
        return cls(bytes.fromhex(key_file.read_text().strip()))

    def signature(self, run_id: int) -> str:
        return hmac.new(self._key, f"run:{run_id}".encode(), hashlib.sha256).hexdigest()[:32]

    def page(self, run_id: int, task_run_id: int | None = None) -> str:
        url = f"{self.base_url}/run/{run_id}?sig={self.signature(run_id)}"
        return url if task_run_id is None else f"{url}#task-{task_run_id}"

    def verify(self, run_id: int, signature: str) -> bool:
        return hmac.compare_digest(self.signature(run_id).encode(), signature.encode())
