"""A request's body, read only up to its route's size limit.

Limits are Databricks' own where it documents one: a Jobs API request is at most 10 MB, a
workspace import's content 10 MB (MAX_NOTEBOOK_SIZE_EXCEEDED), a DBFS put's inline contents
1 MB (MAX_BLOCK_SIZE_EXCEEDED), a Files API upload 5 GiB (streamed to disk, never held in
memory). Other bodies get a 16 MiB cap. JSON is parsed as strictly as the service does: no NaN or
Infinity, and nesting deeper than any real request is refused before it can exhaust the stack.
"""

from __future__ import annotations

import json
import re
from base64 import b64encode
from dataclasses import dataclass
from typing import IO, Any

from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.wrappers import Request

from local_databricks.errors import ApiError, malformed

MIB = 1024 * 1024
MAX_JSON_DEPTH = 64
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class BodyLimit:
    max_bytes: int
    error_code: str
    what: str  # names the limit in the error message

    def error(self, size: int | str) -> ApiError:
        return ApiError(
            400,
            self.error_code,
            f"The request body ({size} bytes) exceeds the limit of {self.what} "
            f"({self.max_bytes} bytes).",
        )


DEFAULT_LIMIT = BodyLimit(16 * MIB, "INVALID_PARAMETER_VALUE", "a request to this emulator")
# Route prefix (after /api/2.x/) -> limit. A JSON body carries content base64-encoded (4/3 of
# its size), so the body caps leave room above the content limits workspace.py checks.
ROUTE_LIMITS = {
    "jobs/": BodyLimit(10 * MIB, "INVALID_PARAMETER_VALUE", "a Jobs API request"),
    "workspace/import": BodyLimit(16 * MIB, "MAX_NOTEBOOK_SIZE_EXCEEDED", "a workspace import"),
    "fs/files/": BodyLimit(5 * 1024 * MIB, "INVALID_PARAMETER_VALUE", "a Files API upload"),
}


def limit_for(route: str) -> BodyLimit:
    return next((v for k, v in ROUTE_LIMITS.items() if route.startswith(k)), DEFAULT_LIMIT)


def declared_length(request: Request) -> int | None:
    """The Content-Length header as a number (None when absent); anything else is refused."""
    raw = request.environ.get("CONTENT_LENGTH", "").strip()
    if not raw:
        return None
    if not _DIGITS.fullmatch(raw):
        raise malformed(f"Invalid Content-Length header {raw[:40]!r}: expected a byte count")
    return int(raw)


def check_declared_size(request: Request, limit: BodyLimit) -> None:
    """Refuse an over-long body from its header alone, before a byte of it is read."""
    length = declared_length(request)
    if length is not None and length > limit.max_bytes:
        raise limit.error(length)
    # One byte over the limit: werkzeug stops a chunked body at its maximum without an error,
    # so reading that one byte is how an over-long chunked body shows (_Guarded).
    request.max_content_length = limit.max_bytes + 1
    request.max_form_memory_size = limit.max_bytes


def stream(request: Request, limit: BodyLimit) -> IO[bytes]:
    """The body as a stream that stops at Content-Length (or the limit, when chunked)."""
    check_declared_size(request, limit)
    return _Guarded(request.stream, limit)


def read(request: Request, limit: BodyLimit) -> bytes:
    return stream(request, limit).read()


def json_fields(data: bytes) -> dict[str, Any]:
    """A JSON object body as a dict, with the service's MALFORMED_REQUEST for anything else."""
    try:
        parsed = json.loads(data, parse_constant=_no_constant)
    except RecursionError:
        raise _too_deep() from None
    except (ValueError, UnicodeDecodeError) as error:
        raise malformed(
            f"Invalid JSON given in the body of the request - failed to parse given JSON "
            f"({error})"
        ) from None
    if _depth(parsed) > MAX_JSON_DEPTH:
        raise _too_deep()
    if not isinstance(parsed, dict):
        raise malformed("Invalid JSON given in the body of the request - expected a map")
    return parsed


def form_fields(request: Request, limit: BodyLimit) -> dict[str, Any]:
    """Fields of a multipart/form-data body; file parts come back base64 encoded."""
    check_declared_size(request, limit)
    try:
        fields: dict[str, Any] = dict(request.form.items())
        for name, upload in request.files.items():
            fields[name] = b64encode(upload.read()).decode()
    except RequestEntityTooLarge:
        raise limit.error("more than allowed") from None
    except ClientDisconnected:
        raise _ended_early() from None
    if "content" in fields and "content" not in request.files:
        fields["content"] = b64encode(fields["content"].encode()).decode()
    return fields


class _Guarded:
    """The body stream, turning werkzeug's limit and disconnect errors into API errors."""

    def __init__(self, raw: IO[bytes], limit: BodyLimit) -> None:
        self._raw, self._limit, self._read = raw, limit, 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._raw.read(size)
        except RequestEntityTooLarge:
            raise self._limit.error("more than allowed") from None
        except ClientDisconnected:
            raise _ended_early() from None
        self._read += len(data)
        if self._read > self._limit.max_bytes:
            raise self._limit.error(f"at least {self._read}")
        return data


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, walked without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return deepest


def _too_deep() -> ApiError:
    return malformed(
        f"Invalid JSON given in the body of the request - nested deeper than "
        f"{MAX_JSON_DEPTH} levels"
    )


def _ended_early() -> ApiError:
    return malformed("The request body ended before its Content-Length")
