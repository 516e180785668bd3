"""Where the emulator keeps its state, and how Databricks paths map onto it.

One module owns the mapping so the server (which stores uploads) and the task runner (which
reads them in a child process) agree on it.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from local_databricks.errors import InvalidPath
from local_databricks.store import atomic_write

NOTEBOOK_HEADERS = {
    "PYTHON": "# Databricks notebook source",
    "SQL": "-- Databricks notebook source",
    "SCALA": "// Databricks notebook source",
    "R": "# Databricks notebook source",
}
# What the local file systems hold: a name of at most 255 bytes, a path well below PATH_MAX
# once the state directory is in front of it.
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 2048


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
    def usage_file(self) -> Path:
        """Clusters started per run and for how long (usage.py)."""
        return self.root / "usage.json"

    @property
    def secrets_file(self) -> Path:
        return self.root / "secrets.json"

    @property
    def run_links_key(self) -> Path:
        """The key that signs run page links (run_links.py)."""
        return self.root / "run-links.key"

    @property
    def partial(self) -> Path:
        """Uploads being written (write_atomic), out of sight of workspace/list and DBFS."""
        return self.root / "partial"

    def create(self) -> StateLayout:
        for directory in (
            self.workspace,
            self.dbfs,
            self.volumes,
            self.warehouse,
            self.runs,
            self.driver_home,
            self.partial,
        ):
            directory.mkdir(parents=True, exist_ok=True)
        return self

    def workspace_path(self, path: str) -> Path:
        """Local file of a workspace path such as /Users/me/nb or /Workspace/Users/me/nb."""
        if path == "/Workspace" or path.startswith("/Workspace/"):
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

    def write_atomic(self, path: Path, chunks) -> None:
        """Write `chunks` (bytes, or an iterable of bytes) to `path` by way of a partial file
        renamed over it: a failure midway leaves the old file (or none), never half of the new
        one."""
        fd, partial = tempfile.mkstemp(dir=self.partial)
        try:
            with os.fdopen(fd, "wb") as file:
                for chunk in [chunks] if isinstance(chunks, bytes) else chunks:
                    file.write(chunk)
            os.chmod(partial, 0o644)  # as any other upload; mkstemp makes it owner-only
            os.replace(partial, path)
        except BaseException:
            os.unlink(partial)
            raise


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


def check_path(path: str) -> None:
    """Refuse a path no Databricks file system holds, naming what is wrong with it."""
    shown = repr(path[:200]) if isinstance(path, str) else repr(path)
    if not isinstance(path, str):
        raise InvalidPath(f"Path {shown} is not a string")
    if "\x00" in path:
        raise InvalidPath(f"Path {shown} contains a NUL character")
    try:
        size = len(path.encode())
    except UnicodeEncodeError:
        raise InvalidPath(f"Path {shown} is not valid Unicode (a lone surrogate)") from None
    if size > MAX_PATH_BYTES:
        raise InvalidPath(f"Path {shown}... is {size} bytes long; the limit is {MAX_PATH_BYTES}")
    names = path.split("/")
    if ".." in names:
        raise InvalidPath(f"Path {shown} contains '..'; give the path without it")
    if any(len(name.encode()) > MAX_NAME_BYTES for name in names):
        raise InvalidPath(f"Path {shown} has a name longer than {MAX_NAME_BYTES} bytes")


def _under(root: Path, path: str) -> Path:
    """`root/path`, refusing bad paths and paths that climb out of root (e.g. by a symlink)."""
    check_path(path)
    target = (root / path.lstrip("/")).resolve()
    if target != root.resolve() and root.resolve() not in target.parents:
        raise InvalidPath(f"Path {path[:200]!r} leads outside its file system")
    return target
