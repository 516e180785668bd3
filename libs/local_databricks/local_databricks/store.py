"""The files of the state directory, written atomically: a crash never leaves half a file.

A write goes to a temporary file beside the target, is flushed to disk, then renamed over the
target (atomic on one file system), and the directory entry is flushed too. A state file that
cannot be read stops the server with an error naming the file and the fix.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


class StateFileError(ValueError):
    """A state file is not valid JSON: the server refuses to start on it."""


def read_json(path: Path, default: Any) -> Any:
    """The file's JSON, or `default` when there is no file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return default
    try:
        return json.loads(text)
    except ValueError as error:
        raise StateFileError(
            f"state file {path} is corrupt ({error}); restore it from a backup, or move it "
            f"aside to start without what it held: mv {path} {path}.corrupt"
        ) from None


def check_json_files(paths: list[Path]) -> None:
    """Read each file once, so that a corrupt one stops the server at start, not mid-request."""
    for path in paths:
        read_json(path, None)


def write_json(path: Path, data: Any, mode: int = 0o644) -> None:
    atomic_write(path, json.dumps(data, indent=1), mode)


def atomic_write(path: Path, text: str, mode: int = 0o644) -> None:
    """Replace `path` with `text`: readers and a restart after a crash see the old file or the
    new one, never a mix. `mode` applies from the first byte (0o600 for secrets)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
