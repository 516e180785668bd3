"""Typed, per-environment configuration read from ``environments/<name>.toml``.

The environment is chosen by the ``DATAPLATFORM_ENV`` environment variable (default ``local``).
Nothing here touches Airflow Variables or the metadata DB, so DAG parsing stays fast and
deterministic. Every key is checked: a missing, unknown or ill-typed key raises ``ConfigError``
naming the file and the dotted key.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

ENV_VAR = "DATAPLATFORM_ENV"
DEFAULT_ENVIRONMENT = "local"

Check = Callable[[Any, Mapping[str, Any]], bool]


class ConfigError(ValueError):
    """Raised when an environment file is missing, unreadable or does not match the schema."""


def _setting(rule: str, check: Check | None = None, **kwargs: Any) -> Any:
    """Declare a config field with the rule quoted in error messages and an optional check.

    ``check(value, table)`` sees the field's converted value and its sibling values.
    """
    return dataclasses.field(metadata={"rule": rule, "check": check}, **kwargs)


def _positive(value: int, _: Mapping[str, Any]) -> bool:
    return value > 0


@dataclass(frozen=True)
class Owner:
    """Who owns the DAGs and how failed tasks are retried (exponential backoff)."""

    name: str = _setting("a non-empty string")
    retries: int = _setting("an integer >= 0", lambda v, _: v >= 0)
    retry_delay_seconds: int = _setting("an integer > 0", _positive)
    max_retry_delay_seconds: int = _setting(
        "an integer >= retry_delay_seconds", lambda v, t: v >= t["retry_delay_seconds"]
    )


@dataclass(frozen=True)
class Databricks:
    """Which workspace connection to use and where deployed notebooks and wheels live."""

    conn_id: str = _setting("a non-empty string")
    notebook_dir: str = _setting("an absolute path", lambda v, _: v.startswith("/"))
    wheel_dir: str = _setting("an absolute path", lambda v, _: v.startswith("/"))
    polling_period_seconds: int = _setting("an integer > 0", _positive)


@dataclass(frozen=True)
class Autoscale:
    min_workers: int = _setting("an integer >= 0", lambda v, _: v >= 0)
    max_workers: int = _setting("an integer >= min_workers", lambda v, t: v >= t["min_workers"])


@dataclass(frozen=True)
class Cluster:
    """Job cluster defaults; ``tags`` become custom_tags for cost attribution."""

    spark_version: str = _setting("a non-empty string")
    autoscale: Autoscale = _setting("a table")
    tags: Mapping[str, str] = _setting(
        "a table of strings with a cost_center key", lambda v, _: "cost_center" in v
    )
    node_type_id: str | None = _setting("a non-empty string", default=None)
    instance_pool_id: str | None = _setting(
        "set exactly when node_type_id is not (a pool fixes the node type)",
        lambda v, t: (v is None) != (t["node_type_id"] is None),
        default=None,
    )
    policy_id: str | None = _setting("a non-empty string", default=None)


@dataclass(frozen=True)
class Alerts:
    """Where failure alerts go; an empty table means no alerts (e.g. on a laptop)."""

    slack_conn_id: str | None = _setting("a non-empty string", default=None)
    slack_channel: str | None = _setting(
        "set exactly when slack_conn_id is set",
        lambda v, t: (v is None) == (t["slack_conn_id"] is None),
        default=None,
    )
    email: tuple[str, ...] = _setting(
        "a list of e-mail addresses", lambda v, _: all("@" in a for a in v), default=()
    )
    smtp_conn_id: str = _setting("a non-empty string", default="smtp_default")


@dataclass(frozen=True)
class Dbt:
    """dbt target of this environment and the dbt-runner wheel file name (in wheel_dir)."""

    target: str = _setting("a non-empty string")
    runner_wheel: str = _setting(
        "a wheel file name ending in .whl", lambda v, _: v.endswith(".whl")
    )


@dataclass(frozen=True)
class Environment:
    """Everything that differs between ``local``, ``test`` and ``prod``."""

    name: str
    owner: Owner
    databricks: Databricks
    cluster: Cluster
    alerts: Alerts
    dbt: Dbt


def load_environment(name: str | None = None) -> Environment:
    """Return environment ``name``, or the one named by ``$DATAPLATFORM_ENV`` (default local)."""
    return _load_packaged(name or os.environ.get(ENV_VAR, DEFAULT_ENVIRONMENT))


def environment_names() -> list[str]:
    """Names of the environment files shipped with the package."""
    folder = resources.files("dataplatform").joinpath("environments")
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


@functools.cache
def _load_packaged(name: str) -> Environment:
    resource = resources.files("dataplatform").joinpath("environments", f"{name}.toml")
    if not resource.is_file():
        raise ConfigError(
            f"{ENV_VAR}={name!r} has no environments/{name}.toml; "
            f"choose one of {', '.join(environment_names())}"
        )
    return parse_environment(name, resource.read_text(encoding="utf-8"), source=f"{name}.toml")


def parse_environment(name: str, text: str, source: str) -> Environment:
    """Parse TOML ``text`` of environment ``name``; ``source`` names the file in errors."""
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from exc
    sections = {f.name for f in dataclasses.fields(Environment)} - {"name"}
    _reject_unknown(table, sections, source, prefix="")
    values = {
        key: _build(_section_type(key), table.get(key), source, key) for key in sorted(sections)
    }
    return Environment(name=name, **values)


def _section_type(key: str) -> type:
    return typing.get_type_hints(Environment)[key]


def _reject_unknown(table: Mapping[str, Any], known: set[str], source: str, prefix: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(
            f"{source}: unknown key {prefix}{unknown[0]} (allowed here: {', '.join(sorted(known))})"
        )


def _build(cls: type, table: Any, source: str, key: str) -> Any:
    """Check ``table`` against dataclass ``cls`` and return an instance."""
    if table is None:
        raise ConfigError(f"{source}: missing table [{key}]")
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: {key} must be a table, got {table!r}")
    fields = dataclasses.fields(cls)
    _reject_unknown(table, {f.name for f in fields}, source, prefix=f"{key}.")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields:
        dotted = f"{key}.{f.name}"
        if f.name not in table:
            if f.default is dataclasses.MISSING:
                raise ConfigError(f"{source}: missing key {dotted} ({f.metadata['rule']})")
            values[f.name] = f.default
            continue
        values[f.name] = _convert(hints[f.name], table[f.name], source, dotted, f.metadata["rule"])
    for f in fields:
        check = f.metadata["check"]
        if check is not None and not check(values[f.name], values):
            _fail(source, f"{key}.{f.name}", f.metadata["rule"], table.get(f.name))
    return cls(**values)


def _convert(hint: Any, value: Any, source: str, key: str, rule: str) -> Any:
    """Type-check one value; lists become tuples and tables read-only mappings (frozen config)."""
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, source, key)
    optional = typing.get_args(hint) if isinstance(hint, types.UnionType) else ()
    if optional:
        hint = next(arg for arg in optional if arg is not type(None))
    origin = typing.get_origin(hint)
    if hint is str and isinstance(value, str) and value.strip():
        return value
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if origin is tuple and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    if origin is Mapping and isinstance(value, dict):
        if all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return types.MappingProxyType(dict(value))
    _fail(source, key, rule, value)


def _fail(source: str, key: str, rule: str, value: Any) -> typing.NoReturn:
    raise ConfigError(f"{source}: {key} must be {rule}, got {value!r}")
