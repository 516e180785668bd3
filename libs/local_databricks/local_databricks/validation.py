"""Strict request checking with databricks-sdk's own types.

The SDK's `from_dict` is lenient (it drops unknown keys and turns bad enums into None), so each
request is walked against the type hints of the SDK method that sends it: numbers sent as
strings are normalised, unknown fields and wrong types are refused naming the field, and every
dataclass value is parsed with `from_dict` and its `as_dict()` diffed against the input.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from typing import Any

from databricks.sdk.service import jobs

from local_databricks.errors import invalid

_TRUE = {"true": True, "false": False}

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
    """The normalised body, or ApiError 400 naming the first bad field."""
    return _check_fields(body, schema, "")


def _check_fields(body: Any, schema: dict[str, Any], path: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid(f"{path or 'request body'}: expected an object, got {_kind(body)}")
    missing = [k for k, tp in schema.items() if not _optional(tp) and body.get(k) is None]
    if missing:
        where = f" in '{path}'" if path else ""
        raise invalid(f"Missing required field '{missing[0]}'{where}")
    out = {}
    for key, value in body.items():
        where = f"{path}.{key}" if path else key
        if key not in schema:
            known = ", ".join(sorted(schema))
            raise invalid(f"Unknown field '{where}'. Known fields here: {known}")
        if value is None:
            continue
        out[key] = _check(value, schema[key], where)
    return out


def _check(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        (inner,) = (a for a in typing.get_args(tp) if a is not type(None))
        return _check(value, inner, where)
    if origin in (list, typing.List):  # noqa: UP006
        if not isinstance(value, list):
            raise invalid(f"Field '{where}': expected a list, got {_kind(value)}")
        (item,) = typing.get_args(tp)
        return [_check(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin in (dict, typing.Dict):  # noqa: UP006
        if not isinstance(value, dict):
            raise invalid(f"Field '{where}': expected an object, got {_kind(value)}")
        _, item = typing.get_args(tp)
        return {k: _check(v, item, f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return _check_dataclass(value, tp, where)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        allowed = [m.value for m in tp]
        if value not in allowed:
            raise invalid(f"Field '{where}': {value!r} is not one of {allowed}")
        return value
    return _check_scalar(value, tp, where)


def _check_dataclass(value: Any, cls: type, where: str) -> dict[str, Any]:
    checked = _check_fields(value, _hints(cls), where)
    round_trip = cls.from_dict(checked).as_dict()
    for key, sent in checked.items():
        if _present(sent) and round_trip.get(key) != sent:
            raise invalid(f"Field '{where}.{key}': value {sent!r} is not a valid {cls.__name__}")
    return checked


def _check_scalar(value: Any, tp: Any, where: str) -> Any:
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE:
            return _TRUE[value.lower()]
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
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
    else:
        return value
    raise invalid(f"Field '{where}': expected {tp.__name__}, got {_kind(value)} {value!r}")


def _optional(tp: Any) -> bool:
    return type(None) in typing.get_args(tp) or tp is Any


def _present(value: Any) -> bool:
    return value not in (None, [], {})


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
