"""Workspace, DBFS and Files API handlers over the state directory's file stores."""

from __future__ import annotations

import base64
import binascii
import shutil
from functools import partial
from pathlib import Path
from typing import IO, Any, NamedTuple

from local_databricks.dbfs_streams import MAX_BLOCK_BYTES, DbfsStreams
from local_databricks.errors import ApiError, invalid, not_found
from local_databricks.layout import (
    NOTEBOOK_HEADERS,
    StateLayout,
    check_path,
    notebook_language,
)
from local_databricks.unity_catalog import UnityCatalog

SOURCE_SUFFIXES = (".py", ".sql", ".scala", ".r")
EXPORT_FILE_TYPE = {"PYTHON": "py", "SQL": "sql", "SCALA": "scala", "R": "r"}  # by language
MAX_IMPORT_BYTES = 10 * 1024 * 1024  # workspace/import content: MAX_NOTEBOOK_SIZE_EXCEEDED
MAX_DBFS_READ_BYTES = 1024 * 1024  # dbfs/read length: MAX_READ_SIZE_EXCEEDED
# The workspace root and its special folders: the service lets no one delete them.
UNDELETABLE = ("/", "/Users", "/Shared", "/Repos")
# (status, error_code) when a file sits where a folder is needed: Workspace/DBFS, Files API.
CONFLICT = (400, "RESOURCE_ALREADY_EXISTS")
FILES_CONFLICT = (409, "ALREADY_EXISTS")
# Paths of other file systems: the Workspace API refuses them (Files API / DBFS API instead).
FOREIGN_PREFIXES = {"/Volumes/": "the Files API (PUT /api/2.0/fs/files/Volumes/...)",
                    "/dbfs/": "the DBFS API (POST /api/2.0/dbfs/put)"}


class RawFile(NamedTuple):
    """A handler's answer sent as the bytes themselves, not as JSON."""

    content: bytes


class WorkspaceApi:
    def __init__(self, layout: StateLayout) -> None:
        self.layout = layout
        self.unity_catalog = UnityCatalog(layout)
        self.dbfs_streams = DbfsStreams(layout)

    def routes(self) -> dict[tuple[str, str], tuple[tuple[str, str] | None, Any]]:
        """(HTTP method, path after /api/2.x/) -> ((SDK API, method) for validation, handler)."""
        return {
            ("POST", "workspace/import"): (("workspace", "import_"), self.import_),
            # Not checked against the SDK's export(), which leaves out direct_download.
            ("GET", "workspace/export"): (None, self.export),
            ("GET", "workspace/get-status"): (("workspace", "get_status"), self.get_status),
            ("POST", "workspace/mkdirs"): (("workspace", "mkdirs"), self.mkdirs),
            ("GET", "workspace/list"): (("workspace", "list"), self.list),
            ("POST", "workspace/delete"): (("workspace", "delete"), self.delete),
            ("POST", "dbfs/put"): (("dbfs", "put"), self.dbfs_put),
            ("GET", "dbfs/get-status"): (("dbfs", "get_status"), self.dbfs_get_status),
            ("POST", "dbfs/mkdirs"): (("dbfs", "mkdirs"), self.dbfs_mkdirs),
            ("POST", "dbfs/create"): (("dbfs", "create"), self.dbfs_create),
            ("POST", "dbfs/add-block"): (("dbfs", "add_block"), self.dbfs_add_block),
            ("POST", "dbfs/close"): (("dbfs", "close"), self.dbfs_close),
            ("GET", "dbfs/read"): (("dbfs", "read"), self.dbfs_read),
            ("GET", "dbfs/list"): (("dbfs", "list"), self.dbfs_list),
        }

    # -- workspace -------------------------------------------------------------------------

    def _workspace_path(self, path: str) -> Path:
        for prefix, api in FOREIGN_PREFIXES.items():
            if path.startswith(prefix):
                raise invalid(f"Path ({path}) is not a workspace path; use {api} for it")
        return self.layout.workspace_path(path)

    def import_(self, body: dict[str, Any]) -> dict[str, Any]:
        path, fmt = body["path"], body.get("format", "SOURCE")
        target = self._workspace_path(path)
        content = _decoded(body.get("content", ""), "content")
        if len(content) > MAX_IMPORT_BYTES:
            raise ApiError(
                400,
                "MAX_NOTEBOOK_SIZE_EXCEEDED",
                f"File size imported is ({len(content)} bytes), exceeded max size "
                f"({MAX_IMPORT_BYTES} bytes)",
            )
        if fmt not in ("SOURCE", "AUTO", "RAW"):
            raise invalid(f"Import format {fmt} is not supported locally; use SOURCE, AUTO or RAW")
        language = notebook_language(content)
        if fmt == "SOURCE":
            language = body.get("language") or language
            if not language:
                raise invalid(f"Importing {path} as SOURCE needs 'language' or a notebook header")
            if notebook_language(content) is None:
                content = NOTEBOOK_HEADERS[language].encode() + b"\n" + content
        elif fmt == "AUTO" and language and path.lower().endswith(SOURCE_SUFFIXES):
            path = path.rsplit(".", 1)[0]
            target = self._workspace_path(path)
        if target.is_dir():
            raise ApiError(
                400, "RESOURCE_ALREADY_EXISTS", f"Path ({path}) is a folder; import below it"
            )
        if target.exists() and not body.get("overwrite"):
            raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"{path} already exists; set overwrite")
        _make_parents(target, path, self.layout.workspace)
        self.layout.write_atomic(target, content)
        return {}

    def _existing(self, path: str) -> Path:
        local = self._workspace_path(path)
        if not local.exists():
            raise not_found(f"Path ({path}) doesn't exist.")
        return local

    def export(self, body: dict[str, Any]) -> dict[str, Any] | RawFile:
        """The content base64-encoded in JSON, or the raw bytes with ``direct_download`` (what
        databricks-sdk's ``workspace.download`` reads); a notebook's file_type is its source
        suffix."""
        if not isinstance(body.get("path"), str):
            raise invalid("workspace/export needs the path of a file or notebook")
        local = self._existing(body["path"])
        if local.is_dir():
            raise invalid(f"{body['path']} is a directory; export files or notebooks")
        content = local.read_bytes()
        if str(body.get("direct_download", "")).lower() == "true":
            return RawFile(content)
        exported = {"content": base64.b64encode(content).decode()}
        language = notebook_language(content)
        return exported | {"file_type": EXPORT_FILE_TYPE[language]} if language else exported

    def _status(self, path: str, local: Path) -> dict[str, Any]:
        status = {"path": path, "object_id": abs(hash(str(local))) % 10**12}
        if local.is_dir():
            return status | {"object_type": "DIRECTORY"}
        content = local.read_bytes()
        language = notebook_language(content)
        status |= {"size": len(content), "modified_at": int(local.stat().st_mtime * 1000)}
        if language:
            return status | {"object_type": "NOTEBOOK", "language": language}
        return status | {"object_type": "FILE"}

    def get_status(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._status(body["path"], self._existing(body["path"]))

    def mkdirs(self, body: dict[str, Any]) -> dict[str, Any]:
        _make_dirs(self._workspace_path(body["path"]), body["path"], self.layout.workspace)
        return {}

    def list(self, body: dict[str, Any]) -> dict[str, Any]:
        """A folder's objects; a file or notebook lists as itself."""
        local = self._existing(body["path"])
        if not local.is_dir():
            return {"objects": [self._status(body["path"], local)]}
        prefix = body["path"].rstrip("/")
        objects = [
            self._status(f"{prefix}/{child.name}", child) for child in sorted(local.iterdir())
        ]
        return {"objects": objects} if objects else {}

    def delete(self, body: dict[str, Any]) -> dict[str, Any]:
        path = body["path"]
        if self._workspace_path(path) in {self.layout.workspace_path(p) for p in UNDELETABLE}:
            raise ApiError(
                403, "PERMISSION_DENIED", f"Path ({path}) is the workspace root or one of its "
                "special folders (/Users, /Shared, /Repos), which cannot be deleted",
            )
        local = self._existing(path)
        if local.is_dir():
            if any(local.iterdir()) and not body.get("recursive"):
                raise ApiError(400, "DIRECTORY_NOT_EMPTY", f"{body['path']} is not empty")
            shutil.rmtree(local)
        else:
            local.unlink()
        return {}

    # -- dbfs ------------------------------------------------------------------------------

    def _dbfs(self, path: str) -> Path:
        return self.layout.resolve(path if path.startswith("dbfs:") else "dbfs:" + path)

    def dbfs_put(self, body: dict[str, Any]) -> dict[str, Any]:
        path = body["path"]
        target = self._dbfs(path)
        contents = _decoded(body.get("contents", ""), "contents")
        if len(contents) > MAX_BLOCK_BYTES:
            raise ApiError(
                400,
                "MAX_BLOCK_SIZE_EXCEEDED",
                f"The contents ({len(contents)} bytes) exceed the 1 MB a dbfs/put can carry "
                "inline; upload larger files with dbfs/create, add-block and close",
            )
        if target.is_dir():
            raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"{path} is a directory")
        if target.exists() and not body.get("overwrite"):
            raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"{path} already exists")
        _make_parents(target, path, self.layout.dbfs)
        self.layout.write_atomic(target, contents)
        return {}

    def _dbfs_existing(self, path: str) -> Path:
        local = self._dbfs(path)
        if not local.exists():
            raise not_found(f"No file or directory exists on path {path}.")
        return local

    def dbfs_get_status(self, body: dict[str, Any]) -> dict[str, Any]:
        return _dbfs_status(body["path"], self._dbfs_existing(body["path"]))

    def dbfs_list(self, body: dict[str, Any]) -> dict[str, Any]:
        """A folder's files and folders; a file lists as itself."""
        path, local = body["path"], self._dbfs_existing(body["path"])
        if not local.is_dir():
            return {"files": [_dbfs_status(path, local)]}
        prefix = path.rstrip("/")
        files = [_dbfs_status(f"{prefix}/{child.name}", child) for child in sorted(local.iterdir())]
        return {"files": files} if files else {}

    def dbfs_read(self, body: dict[str, Any]) -> dict[str, Any]:
        """Up to ``length`` bytes (default 0.5 MB, at most 1 MB) from ``offset``, base64."""
        path, local = body["path"], self._dbfs_existing(body["path"])
        offset, length = body.get("offset", 0), body.get("length", MAX_DBFS_READ_BYTES // 2)
        if local.is_dir():
            raise invalid(f"{path} is a directory; dbfs/read reads files")
        if offset < 0 or length < 0:
            raise invalid(f"offset and length must not be negative, got {offset} and {length}")
        if length > MAX_DBFS_READ_BYTES:
            raise ApiError(400, "MAX_READ_SIZE_EXCEEDED", f"Cannot read more than 1 MB at once "
                           f"(length {length}); read the file in parts")  # fmt: skip
        with local.open("rb") as file:
            file.seek(offset)
            data = file.read(length)
        return {"bytes_read": len(data), "data": base64.b64encode(data).decode()}

    def dbfs_create(self, body: dict[str, Any]) -> dict[str, Any]:
        path = body["path"]
        handle = self.dbfs_streams.create(path, self._dbfs(path), bool(body.get("overwrite")))
        return {"handle": handle}

    def dbfs_add_block(self, body: dict[str, Any]) -> dict[str, Any]:
        self.dbfs_streams.add_block(body["handle"], _decoded(body.get("data", ""), "data"))
        return {}

    def dbfs_close(self, body: dict[str, Any]) -> dict[str, Any]:
        self.dbfs_streams.close(body["handle"], partial(_make_parents, root=self.layout.dbfs))
        return {}

    def dbfs_mkdirs(self, body: dict[str, Any]) -> dict[str, Any]:
        _make_dirs(self._dbfs(body["path"]), body["path"], self.layout.dbfs)
        return {}

    # -- files API (/api/2.0/fs/files/<path>, raw bodies) ----------------------------------

    def _files_path(self, path: str) -> Path:
        """Local file of a Files API path; a /Volumes path needs its volume to exist."""
        check_path(path)
        if path.startswith("/Volumes/"):
            self.unity_catalog.check_volume_path(path)
        return self.layout.resolve(path)

    def files(
        self, method: str, path: str, query: dict[str, str], body: IO[bytes]
    ) -> tuple[int, dict[str, str], bytes]:
        local = self._files_path(path)
        if method == "PUT":
            if local.is_dir():
                raise ApiError(409, "ALREADY_EXISTS", f"{path} is a directory")
            # "If true or unspecified, an existing file will be overwritten."
            if local.exists() and query.get("overwrite", "true").lower() == "false":
                raise ApiError(409, "ALREADY_EXISTS", f"{path} already exists; pass overwrite=true")
            _make_parents(local, path, self.layout.root, conflict=FILES_CONFLICT)
            self.layout.write_atomic(local, iter(lambda: body.read(1024 * 1024), b""))
            return 204, {}, b""
        if not local.is_file():
            raise not_found(f"File {path} does not exist.")
        if method == "DELETE":
            local.unlink()
            return 204, {}, b""
        content = local.read_bytes()
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(content))}
        return 200, headers, b"" if method == "HEAD" else content

    def directories(
        self, method: str, path: str, query: dict[str, str], body: IO[bytes]
    ) -> tuple[int, dict[str, str], bytes]:
        if method != "PUT":
            raise ApiError(501, "NOT_IMPLEMENTED", f"{method} on fs/directories is not emulated")
        _make_dirs(self._files_path(path), path, self.layout.root, conflict=FILES_CONFLICT)
        return 204, {}, b""


def _dbfs_status(path: str, local: Path) -> dict[str, Any]:
    return {
        "path": path,
        "is_dir": local.is_dir(),
        "file_size": 0 if local.is_dir() else local.stat().st_size,
        "modification_time": int(local.stat().st_mtime * 1000),
    }


def _decoded(text: Any, field: str) -> bytes:
    """Base64 `text`, strictly: a character outside the alphabet is an error, not skipped."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise invalid(f"'{field}' is not valid base64; send the bytes base64-encoded") from None


def _make_dirs(local: Path, path: str, root: Path, conflict: tuple[int, str] = CONFLICT) -> None:
    """mkdir -p, with the service's error when a file sits where a folder is needed."""
    for folder in (*reversed(local.parents), local):
        if folder.is_relative_to(root) and folder.exists() and not folder.is_dir():
            message = f"Cannot create {path}: a file exists where a folder is needed"
            raise ApiError(*conflict, message)
    local.mkdir(parents=True, exist_ok=True)


def _make_parents(local: Path, path: str, root: Path, conflict: tuple[int, str] = CONFLICT) -> None:
    _make_dirs(local.parent, path, root, conflict)
