"""DBFS's streaming upload (dbfs/create, add-block, close): what databricks-sdk's
``dbfs.upload`` sends, and the way past dbfs/put's 1 MB.

A handle's blocks go to a partial file in the state directory; ``close`` moves it over the
target in one step, so a reader never sees half a file and an abandoned upload leaves none.
Handles live as long as the server: a restart ends them, as the service ends idle ones.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from local_databricks.errors import ApiError, not_found
from local_databricks.layout import StateLayout

MAX_BLOCK_BYTES = 1024 * 1024  # add-block data: MAX_BLOCK_SIZE_EXCEEDED
FIRST_HANDLE = 1_000_001


@dataclass
class _Stream:
    path: str
    target: Path
    partial: Path
    overwrite: bool


class DbfsStreams:
    def __init__(self, layout: StateLayout) -> None:
        self.layout = layout
        self._streams: dict[int, _Stream] = {}
        self._handles = itertools.count(FIRST_HANDLE)
        self._lock = threading.Lock()

    def create(self, path: str, target: Path, overwrite: bool) -> int:
        if target.is_dir():
            raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"{path} is a directory")
        if target.exists() and not overwrite:
            raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"A file or directory already exists "
                           f"at the input path {path}.")  # fmt: skip
        fd, partial = tempfile.mkstemp(dir=self.layout.partial)
        os.close(fd)
        with self._lock:
            handle = next(self._handles)
            self._streams[handle] = _Stream(path, target, Path(partial), overwrite)
        return handle

    def add_block(self, handle: int, data: bytes) -> None:
        if len(data) > MAX_BLOCK_BYTES:
            raise ApiError(400, "MAX_BLOCK_SIZE_EXCEEDED", f"The block ({len(data)} bytes) is over "
                           "the 1 MB an add-block call can carry; send it in smaller blocks")
        stream = self._stream(handle)
        with stream.partial.open("ab") as partial:
            partial.write(data)

    def close(self, handle: int, make_parents) -> None:
        """Move the upload over its target; ``make_parents(target, path)`` makes its folders."""
        stream = self._stream(handle)
        with self._lock:
            del self._streams[handle]
        try:
            if stream.target.exists() and not stream.overwrite:
                raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"A file or directory already "
                               f"exists at the input path {stream.path}.")  # fmt: skip
            make_parents(stream.target, stream.path)
            os.chmod(stream.partial, 0o644)
            os.replace(stream.partial, stream.target)
        finally:
            stream.partial.unlink(missing_ok=True)

    def _stream(self, handle: int) -> _Stream:
        with self._lock:
            stream = self._streams.get(handle)
        if stream is None:
            raise not_found(f"No file handle {handle}: it was closed, or never opened with "
                            "dbfs/create")
        return stream
