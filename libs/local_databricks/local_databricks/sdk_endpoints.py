"""Databricks' REST endpoints, as the databricks-sdk the emulator is built with calls them: a
request for one the emulator does not implement is refused as such (501 NOT_IMPLEMENTED), not
answered as a path that does not exist, which clients read as "no such object"
(databricks-sdk's NotFound). Endpoints newer than that SDK still answer 404."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import databricks.sdk

# self._api.do("GET", f"/api/2.1/unity-catalog/tables/{full_name}", ...) in the SDK's services
_CALL = re.compile(r'_api\.do\(\s*"(\w+)",\s*f?"(/api/[^"]+)"')
_PARAMETER = re.compile(r"\{[^}]*\}")
# /api/2.0/{name}: resource-name endpoints that would match any path; left out.
_ANY_PATH = re.compile(r"/api/[^/]+/\{")


@functools.cache
def _endpoints() -> tuple[tuple[str, re.Pattern[str]], ...]:
    sdk = Path(databricks.sdk.__file__).parent
    calls: set[tuple[str, str]] = set()
    for source in (*sdk.glob("service/*.py"), *sdk.glob("mixins/*.py")):
        calls.update(_CALL.findall(source.read_text(encoding="utf-8")))
    return tuple((method, _pattern(path)) for method, path in sorted(calls)
                 if not _ANY_PATH.match(path))


def _pattern(path: str) -> re.Pattern[str]:
    """A parameter is one path segment, a file path (``..._multi_segment_...``) any number."""
    parts, parameters = _PARAMETER.split(path), _PARAMETER.findall(path)
    regex = re.escape(parts[0])
    for parameter, part in zip(parameters, parts[1:], strict=True):
        regex += (".+" if "multi_segment" in parameter else "[^/]+") + re.escape(part)
    return re.compile(regex)


def is_databricks_endpoint(method: str, path: str) -> bool:
    """Whether databricks-sdk calls ``method path`` (e.g. GET /api/2.1/unity-catalog/tables/x)."""
    return any(method == known and pattern.fullmatch(path) for known, pattern in _endpoints())
