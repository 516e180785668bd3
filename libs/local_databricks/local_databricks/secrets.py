"""Secret scopes and their secrets, kept in <state dir>/secrets.json.

The server writes the file (owner-only, renamed into place so a reader never sees half of it);
task processes read it for `dbutils.secrets` and the server resolves `{{secrets/<scope>/<key>}}`
references in cluster settings from it. Values are stored as base64 with the type they were put
with (string or bytes), as the Secrets API keeps them. Limits and name rules are Databricks':
names of letters, digits, `-`, `_` and `.` up to 128 characters, values up to 128 KB, 1,000
secrets per scope, 100 scopes per workspace.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from typing import Any

from local_databricks.errors import ApiError, invalid, not_found
from local_databricks.layout import StateLayout, write_private
from local_databricks.store import read_json

SECRET_REFERENCE = re.compile(r"\{\{\s*secrets/([^/{}\s]+)/([^/{}\s]+)\s*\}\}")
NAME_RULE = re.compile(r"[A-Za-z0-9._-]{1,128}")
MAX_VALUE_BYTES = 128 * 1024
MAX_SECRETS_PER_SCOPE = 1000
MAX_SCOPES = 100
REDACTED = "[REDACTED]"


class SecretStore:
    """Scopes and secrets of one state directory. Writes are serialised within the server."""

    def __init__(self, layout: StateLayout) -> None:
        self._file = layout.secrets_file
        self._write_lock = threading.Lock()

    # -- reading -----------------------------------------------------------------------------

    def _load(self) -> dict[str, dict[str, Any]]:
        """scope -> {"created": ms, "secrets": {key: {"value": b64, "type", "updated": ms}}}"""
        return read_json(self._file, {})

    def _scope(self, scopes: dict[str, Any], scope: str) -> dict[str, Any]:
        if scope not in scopes:
            raise not_found(f"Scope {scope} does not exist!")
        return scopes[scope]

    def list_scopes(self) -> list[str]:
        return sorted(self._load())

    def list_secrets(self, scope: str) -> dict[str, int]:
        """Key -> last update (ms since epoch); never the values."""
        secrets = self._scope(self._load(), scope)["secrets"]
        return {key: secret["updated"] for key, secret in sorted(secrets.items())}

    def get(self, scope: str, key: str) -> tuple[bytes, str]:
        """The value and its type ("string" or "bytes")."""
        secrets = self._scope(self._load(), scope)["secrets"]
        if key not in secrets:
            raise not_found(f"Secret {key} does not exist in scope {scope}!")
        return base64.b64decode(secrets[key]["value"]), secrets[key]["type"]

    def resolve_references(self, text: str, where: str) -> str:
        """`text` with every {{secrets/<scope>/<key>}} replaced by the secret's value.

        Raises RESOURCE_DOES_NOT_EXIST naming the scope, key and `where` (e.g. the cluster
        setting) for a reference to a secret that does not exist, as a cluster start does.
        """
        scopes = self._load() if SECRET_REFERENCE.search(text) else {}

        def value(match: re.Match[str]) -> str:
            scope, key = match.groups()
            secret = scopes.get(scope, {}).get("secrets", {}).get(key)
            if secret is None:
                raise not_found(
                    f"{where}: secret reference {match.group(0)} cannot be resolved: no secret "
                    f"with scope: {scope} and key: {key}. Create it with the Secrets API "
                    "(secrets/scopes/create, secrets/put)."
                )
            return base64.b64decode(secret["value"]).decode("utf-8", "replace")

        return SECRET_REFERENCE.sub(value, text)

    # -- writing -----------------------------------------------------------------------------

    def _save(self, scopes: dict[str, Any]) -> None:
        write_private(self._file, json.dumps(scopes, indent=1, sort_keys=True))

    def create_scope(self, scope: str) -> None:
        _check_name("scope", scope)
        with self._write_lock:
            scopes = self._load()
            if scope in scopes:
                raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"Scope {scope} already exists!")
            if len(scopes) >= MAX_SCOPES:
                raise ApiError(
                    400, "RESOURCE_LIMIT_EXCEEDED",
                    f"A workspace holds at most {MAX_SCOPES} secret scopes; delete one first",
                )
            scopes[scope] = {"created": _now_ms(), "secrets": {}}
            self._save(scopes)

    def delete_scope(self, scope: str) -> None:
        with self._write_lock:
            scopes = self._load()
            self._scope(scopes, scope)
            del scopes[scope]
            self._save(scopes)

    def put(self, scope: str, key: str, value: bytes, value_type: str) -> None:
        _check_name("key", key)
        if len(value) > MAX_VALUE_BYTES:
            raise invalid(
                f"Secret {scope}/{key}: the value has {len(value)} bytes; at most "
                f"{MAX_VALUE_BYTES} (128 KB) are allowed"
            )
        with self._write_lock:
            scopes = self._load()
            secrets = self._scope(scopes, scope)["secrets"]
            if key not in secrets and len(secrets) >= MAX_SECRETS_PER_SCOPE:
                raise ApiError(
                    400, "RESOURCE_LIMIT_EXCEEDED",
                    f"Scope {scope} already holds {MAX_SECRETS_PER_SCOPE} secrets",
                )
            secrets[key] = {
                "value": base64.b64encode(value).decode(),
                "type": value_type,
                "updated": _now_ms(),
            }
            self._save(scopes)

    def delete(self, scope: str, key: str) -> None:
        with self._write_lock:
            scopes = self._load()
            secrets = self._scope(scopes, scope)["secrets"]
            if key not in secrets:
                raise not_found(f"Secret {key} does not exist in scope {scope}!")
            del secrets[key]
            self._save(scopes)


class Redactor:
    """Replaces the secret values a task has read with [REDACTED] in what it shows.

    Databricks redacts the literal values read with dbutils.secrets.get from notebook output;
    the task process runs every output line and its result through `redact`.
    """

    def __init__(self) -> None:
        self._values: set[str] = set()

    def add(self, value: str) -> None:
        if value:
            self._values.add(value)

    def redact(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, REDACTED)
        return text


class RedactingStream:
    """A text stream (sys.stdout/sys.stderr) that redacts before writing."""

    def __init__(self, stream: Any, redactor: Redactor) -> None:
        self._stream, self._redactor = stream, redactor

    def write(self, text: str) -> int:
        self._stream.write(self._redactor.redact(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _check_name(kind: str, name: str) -> None:
    if not NAME_RULE.fullmatch(name):
        raise invalid(
            f"Invalid secret {kind} name {name!r}: use letters, digits, '-', '_' and '.', "
            "at most 128 characters"
        )


def _now_ms() -> int:
    return int(time.time() * 1000)
