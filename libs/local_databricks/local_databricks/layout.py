"""Where the emulator keeps its state, and how Databricks paths map onto it.

One module owns the mapping so the server (which stores uploads) and the task runner (which
reads them in a child process) agree on it.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from local_databricks.store import atomic_write

NOTEBOOK_HEADERS = {
    "PYTHON": "# Databricks notebook source",
    "SQL": "-- Databricks notebook source",
    "SCALA": "// Databricks notebook source",
    "R": "# Databricks notebook source",
}


@dataclass(frozen=True)
class StateLayout:
    """The directories under one --state-dir."""

    root: Path

    @property
    def workspace(self) -> Path:
        return self.root / "workspace"

    @property
    def dbfs(self) -> Path:
        return self.root / "dbfs"

    @property
    def volumes(self) -> Path:
        return self.root / "volumes"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def catalog_file(self) -> Path:
        return self.warehouse / "_catalog.json"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def driver_home(self) -> Path:
        """HOME of task processes: what tools write under ~ stays in the state dir."""
        return self.root / "driver-home"

    @property
    def server_file(self) -> Path:
        return self.root / "server.json"

    @property
    def processes_file(self) -> Path:
        """The server's child processes (see processes.py)."""
        return self.root / "processes.json"

    @property
    def secrets_file(self) -> Path:
        return self.root / "secrets.json"

    def create(self) -> StateLayout:
        for directory in (
            self.workspace, self.dbfs, self.volumes, self.warehouse, self.runs, self.driver_home
        ):
            directory.mkdir(parents=True, exist_ok=True)
        return self

    def workspace_path(self, path: str) -> Path:
        """Local file of a workspace path such as /Users/me/nb or /Workspace/Users/me/nb."""
        if path.startswith("/Workspace/"):
            path = path[len("/Workspace") :]
        return _under(self.workspace, path)

    def resolve(self, uri: str) -> Path:
        """Local file of a dbfs:/, /dbfs/, /Volumes/ or workspace path."""
        if uri.startswith("dbfs:"):
            return _under(self.dbfs, uri[len("dbfs:") :])
        if uri.startswith("/dbfs/"):
            return _under(self.dbfs, uri[len("/dbfs") :])
        if uri.startswith("/Volumes/"):
            return _under(self.volumes, uri[len("/Volumes") :])
        if uri.startswith("file:"):
            return Path(uri[len("file:") :])
        return self.workspace_path(uri)

    def notebook_file(self, path: str) -> Path | None:
        """The stored notebook for a workspace path, tolerating a source-file extension."""
        base = self.workspace_path(path)
        for candidate in (base, *(base.with_name(base.name + ext) for ext in (".py", ".sql"))):
            if candidate.is_file():
                return candidate
        return None


def notebook_language(content: bytes) -> str | None:
    """The language of a SOURCE notebook, or None when the content is a plain file."""
    first_line = content.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    for language, header in NOTEBOOK_HEADERS.items():
        if first_line == header:
            return language
    return None


def hold_state_dir(layout: StateLayout) -> None:
    """One server per state dir: a second one would share its runs and end its children as
    leftovers. The lock is held until this process exits (its descriptor is never closed), and
    released by the system even when the process is killed."""
    fd = os.open(layout.root / "server.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ValueError(
            f"state dir {layout.root} is in use by another emulator server (its pid is in "
            f"{layout.server_file}): stop that one, or give this one another --state-dir"
        ) from None


def write_private(path: Path, text: str) -> None:
    """Owner-only from the first byte, and renamed into place: readers never see half a file."""
    atomic_write(path, text, mode=0o600)


def _under(root: Path, path: str) -> Path:
    """`root/path`, refusing paths that climb out of root."""
    target = (root / path.lstrip("/")).resolve()
    if target != root.resolve() and root.resolve() not in target.parents:
        raise ValueError(f"path {path!r} escapes {root}")
    return target
