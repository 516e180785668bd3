"""DBFS's streaming upload (dbfs/create, add-block, close): what databricks-sdk's
``dbfs.upload`` sends, and the way past dbfs/put's 1 MB.

A handle's blocks go to a partial file in the state directory; ``close`` moves it over the
target in one step, so a reader never sees half a file. Handles live as long as the server (the
service also ends idle ones after a while); the partial files of a former server's handles are
removed when the next one starts.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from local_databricks.errors import ApiError, not_found
from local_databricks.layout import StateLayout

# dbfs/put contents and an add-block's data: at most 1 MB, else MAX_BLOCK_SIZE_EXCEEDED.
MAX_BLOCK_BYTES = 1024 * 1024
FIRST_HANDLE = 1_000_001  # handles look like the service's (large numbers), never 0 or 1


@dataclass
class _Stream:
    path: str
    target: Path
    partial: Path
    overwrite: bool
    lock: threading.Lock = field(default_factory=threading.Lock)


class DbfsStreams:
    def __init__(self, layout: StateLayout) -> None:
        self.directory = layout.partial / "dbfs-streams"
        shutil.rmtree(self.directory, ignore_errors=True)  # a former server's open handles
        self.directory.mkdir(parents=True)
        self._streams: dict[int, _Stream] = {}
        self._handles = itertools.count(FIRST_HANDLE)
        self._lock = threading.Lock()

    def create(self, path: str, target: Path, overwrite: bool) -> int:
        if target.is_dir():
            raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"{path} is a directory")
        if target.exists() and not overwrite:
            raise _exists(path)
        fd, partial = tempfile.mkstemp(dir=self.directory)
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
        with stream.lock:  # after a close (which holds it too) the handle is gone
            if self._stream_or_none(handle) is not stream:
                raise _no_handle(handle)
            with stream.partial.open("ab") as partial:
                partial.write(data)

    def close(self, handle: int, make_parents: Callable[[Path, str], None]) -> None:
        """Move the upload over its target; ``make_parents(target, path)`` makes its folders."""
        with self._lock:
            stream = self._streams.pop(handle, None)
        if stream is None:
            raise _no_handle(handle)
        with stream.lock:
            try:
                if stream.target.exists() and not stream.overwrite:
                    raise _exists(stream.path)
                make_parents(stream.target, stream.path)
                os.chmod(stream.partial, 0o644)
                os.replace(stream.partial, stream.target)
            finally:
                stream.partial.unlink(missing_ok=True)

    def _stream(self, handle: int) -> _Stream:
        stream = self._stream_or_none(handle)
        if stream is None:
            raise _no_handle(handle)
        return stream

    def _stream_or_none(self, handle: int) -> _Stream | None:
        with self._lock:
            return self._streams.get(handle)


def _exists(path: str) -> ApiError:
    return ApiError(400, "RESOURCE_ALREADY_EXISTS",
                    f"A file or directory already exists at the input path {path}.")


def _no_handle(handle: int) -> ApiError:
    return not_found(f"No file handle {handle}: it was closed, or never opened with dbfs/create")
