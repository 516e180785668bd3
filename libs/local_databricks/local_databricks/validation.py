"""Request checking with databricks-sdk's own types, as lenient and as strict as the service.

Each request is walked against the type hints of the SDK method that sends it (and the SDK
dataclasses inside it). What the service does, the walk does:
- numbers and booleans sent as strings are normalised ("123", "True");
- unknown fields (output-only ones pasted from jobs/get such as `cluster_source`, or fields this
  SDK does not know yet) are ignored and logged at debug;
- an enum value the service does not know is accepted and dropped (logged as a warning): the
  service answers 200 and the setting falls back to its default;
- empty objects and lists are kept as sent, and a required list or map may be left out;
- a wrong type is MALFORMED_REQUEST ("Could not parse request object: ..."); a missing required
  field is INVALID_PARAMETER_VALUE ("Missing required field: ...").
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import logging
import re
import types
import typing
from typing import Any

from databricks.sdk.service import jobs

from local_databricks.errors import invalid, malformed

log = logging.getLogger(__name__)

_TRUE = {"true": True, "false": False}
_INT = re.compile(r"-?[0-9]{1,19}")  # ASCII digits only: "²".isdigit() is true in Python
_INT64 = range(-(2**63), 2**63)
_DROPPED = object()  # an unknown enum value: the field is left out, as the service does

# Fields apache-airflow-providers-databricks 7.18.1 sends that this SDK's methods lack.
PROVIDER_EXTRAS: dict[str, dict[str, Any]] = {"list": {"include_user_names": bool | None}}


@functools.cache
def _hints(target: Any) -> dict[str, Any]:
    return {k: v for k, v in typing.get_type_hints(target).items() if k not in ("return", "self")}


def request_schema(method: str, api: type = jobs.JobsAPI) -> dict[str, Any]:
    """Field -> type of the request the SDK's <api>.<method> sends."""
    schema = dict(_hints(getattr(api, method)))
    if api is jobs.JobsAPI:
        schema |= PROVIDER_EXTRAS.get(method, {})
    if method == "submit":
        # Legacy single-task submit: the task's fields sit at the top level (the provider's
        # DatabricksSubmitRunOperator still sends that shape); run_name stands in for task_key.
        schema |= {k: v for k, v in _hints(jobs.SubmitTask).items() if k != "task_key"}
    return schema


def parse_request(body: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The normalised body, or the service's 400 naming the first bad field."""
    return _check_fields(body, schema, "")


def _check_fields(body: Any, schema: dict[str, Any], path: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise malformed(
            f"Could not parse request object: expected an object for "
            f"'{path or 'request body'}', got {_kind(body)}"
        )
    for key, tp in schema.items():
        if not _optional(tp) and body.get(key) is None:
            raise invalid(f"Missing required field: {_join(path, key)}")
    out = {}
    for key, value in body.items():
        where = _join(path, key)
        if key not in schema:
            log.debug("ignoring unknown field '%s'", where)
            continue
        if value is None:
            continue
        checked = _check(value, schema[key], where)
        if checked is not _DROPPED:
            out[key] = checked
    return out


def _check(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        (inner,) = (a for a in typing.get_args(tp) if a is not type(None))
        return _check(value, inner, where)
    if origin in (list, typing.List):  # noqa: UP006
        if not isinstance(value, list):
            raise _wrong_type(where, "a list", value)
        (item,) = typing.get_args(tp)
        items = (_check(v, item, f"{where}[{i}]") for i, v in enumerate(value))
        return [v for v in items if v is not _DROPPED]
    if origin in (dict, typing.Dict):  # noqa: UP006
        if not isinstance(value, dict):
            raise _wrong_type(where, "an object", value)
        _, item = typing.get_args(tp)
        return {k: _check(v, item, f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return _check_fields(value, _hints(tp), where)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        allowed = [m.value for m in tp]
        if value not in allowed:
            log.warning("dropping '%s': %r is not one of %s", where, value, allowed)
            return _DROPPED
        return value
    return _check_scalar(value, tp, where)


def _check_scalar(value: Any, tp: Any, where: str) -> Any:
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE:
            return _TRUE[value.lower()]
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool) and value in _INT64:
            return value
        if isinstance(value, str) and (number := parse_int64(value)) is not None:
            return number
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
    else:  # Any, and the SDK's own value types: the service parses them, not this walk
        return value
    raise _wrong_type(where, "int64" if tp is int else tp.__name__, value)


def parse_int64(text: Any) -> int | None:
    """The int64 a string spells in ASCII digits (as the service's parser reads it), else None."""
    if not isinstance(text, str) or not _INT.fullmatch(text.strip()):
        return None
    number = int(text)
    return number if number in _INT64 else None


def _wrong_type(where: str, expected: str, value: Any):
    return malformed(
        f"Could not parse request object: expected {expected} for field '{where}', "
        f"got {_kind(value)} {value!r}"
    )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _optional(tp: Any) -> bool:
    """A list or map is never missing, only empty (the SDK's as_dict() leaves empty ones out)."""
    container = typing.get_origin(tp) in (list, dict, typing.List, typing.Dict)  # noqa: UP006
    return container or type(None) in typing.get_args(tp) or tp is Any


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
