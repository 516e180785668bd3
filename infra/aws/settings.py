"""The `[mwaa]` table of an environment: what the CDK stack and the secrets CLI read.

A small typed loader (tomllib + frozen dataclasses): every key is required, unknown keys are
refused, and an error names the file and the dotted key. The table lives in the environment's
file the DAGs read (libs/dataplatform: ``dataplatform/environments/<name>.toml``, package data
this resolve reads without importing the DAG library); environments without it (local) are not
deployed to AWS.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

ENVIRONMENT_CLASSES = (
    "mw1.micro", "mw1.small", "mw1.medium", "mw1.large", "mw1.xlarge", "mw1.2xlarge",
)  # fmt: skip
ACCESS_MODES = ("PRIVATE_ONLY", "PUBLIC_ONLY")
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class SettingsError(ValueError):
    """An environment file is missing or does not match the schema."""


@dataclass(frozen=True)
class LogLevels:
    """CloudWatch log level of each MWAA component (every component logs)."""

    dag_processing: str
    scheduler: str
    task: str
    webserver: str
    worker: str


@dataclass(frozen=True)
class SecretPrefixes:
    """Secrets Manager name prefixes the Airflow secrets backend reads."""

    connections_prefix: str
    variables_prefix: str


@dataclass(frozen=True)
class Alarms:
    queued_tasks_threshold: int
    queued_minutes: int
    worker_cpu_percent: int


@dataclass(frozen=True)
class Mwaa:
    """Everything the stack of one environment needs beyond the code it deploys."""

    environment_name: str
    environment_class: str
    min_workers: int
    max_workers: int
    schedulers: int
    webserver_access_mode: str
    s3_prefix: str
    noncurrent_version_expiration_days: int
    nat_gateways: int
    vpc_cidr: str
    github_repository: str
    github_environment: str
    log_levels: LogLevels
    secrets: SecretPrefixes
    alarms: Alarms
    airflow_configuration: Mapping[str, str]


# Rules checked after types: (dotted key, rule text, predicate over the Mwaa instance).
RULES: tuple[tuple[str, str, typing.Callable[[Mwaa], bool]], ...] = (
    ("environment_class", f"one of {', '.join(ENVIRONMENT_CLASSES)}",
     lambda m: m.environment_class in ENVIRONMENT_CLASSES),
    ("min_workers", "an integer >= 1", lambda m: m.min_workers >= 1),
    ("max_workers", "an integer >= min_workers", lambda m: m.max_workers >= m.min_workers),
    ("schedulers", "2 to 5 (MWAA's range for Airflow 2+)", lambda m: 2 <= m.schedulers <= 5),
    ("webserver_access_mode", f"one of {', '.join(ACCESS_MODES)}",
     lambda m: m.webserver_access_mode in ACCESS_MODES),
    ("s3_prefix", "a key prefix without leading or trailing '/'",
     lambda m: m.s3_prefix == m.s3_prefix.strip("/") and m.s3_prefix != ""),
    ("noncurrent_version_expiration_days", "an integer >= 1",
     lambda m: m.noncurrent_version_expiration_days >= 1),
    ("nat_gateways", "1 or 2 (one per private subnet at most)", lambda m: m.nat_gateways in (1, 2)),
    ("github_repository", "OWNER/NAME", lambda m: m.github_repository.count("/") == 1),
    ("log_levels", f"levels among {', '.join(LOG_LEVELS)}",
     lambda m: all(v in LOG_LEVELS for v in dataclasses.astuple(m.log_levels))),
    ("airflow_configuration", "a table of \"section.key\" = \"string\"",
     lambda m: all(k.count(".") == 1 for k in m.airflow_configuration)),
    ("airflow_configuration", "free of secrets.* (the stack sets the secrets backend)",
     lambda m: not any(k.startswith("secrets.") for k in m.airflow_configuration)),
)  # fmt: skip


def stack_name(environment: str) -> str:
    """The CloudFormation stack of an environment."""
    return f"dataplatform-{environment}"


def _environment_files() -> dict[str, str]:
    """Environment name -> its file's text, for the environments deployed to AWS."""
    folder = resources.files("dataplatform").joinpath("environments")
    texts = {
        p.name.removesuffix(".toml"): p.read_text(encoding="utf-8")
        for p in folder.iterdir()
        if p.name.endswith(".toml")
    }
    return {name: text for name, text in texts.items() if "[mwaa]" in text}


def environment_names() -> list[str]:
    return sorted(_environment_files())


def load_mwaa(environment: str) -> Mwaa:
    """The `[mwaa]` table of ``dataplatform/environments/<environment>.toml``."""
    files = _environment_files()
    if environment not in files:
        raise SettingsError(
            f"environment {environment!r} has no [mwaa] table in dataplatform/environments/"
            f"{environment}.toml; choose one of {', '.join(sorted(files))}"
        )
    return parse_mwaa(files[environment], source=f"{environment}.toml")


def parse_mwaa(text: str, source: str) -> Mwaa:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{source}: invalid TOML: {error}") from error
    if "mwaa" not in document:
        raise SettingsError(f"{source}: missing table [mwaa]")
    mwaa = _build(Mwaa, document["mwaa"], source, "mwaa")
    for key, rule, holds in RULES:
        if not holds(mwaa):
            raise SettingsError(f"{source}: mwaa.{key} must be {rule}")
    return mwaa


def _build(cls: type, table: Any, source: str, key: str) -> Any:
    if not isinstance(table, dict):
        raise SettingsError(f"{source}: {key} must be a table, got {table!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(table) - names)
    if unknown:
        raise SettingsError(
            f"{source}: unknown key {key}.{unknown[0]} (allowed: {', '.join(sorted(names))})"
        )
    values = {}
    for name in sorted(names):
        dotted = f"{key}.{name}"
        if name not in table:
            raise SettingsError(f"{source}: missing key {dotted}")
        values[name] = _convert(hints[name], table[name], source, dotted)
    return cls(**values)


def _convert(hint: Any, value: Any, source: str, key: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, source, key)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is str and isinstance(value, str) and value.strip():
        return value
    if typing.get_origin(hint) is Mapping and isinstance(value, dict):
        if all(isinstance(v, str) for v in value.values()):
            return MappingProxyType(dict(value))
    expected = (
        "a table of strings"
        if typing.get_origin(hint) is Mapping
        else getattr(hint, "__name__", hint)
    )
    raise SettingsError(f"{source}: {key} must be {expected}, got {value!r}")
