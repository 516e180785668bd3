"""Typed, per-environment configuration read from ``environments/<name>.toml``.

The environment is chosen by the ``DATAPLATFORM_ENV`` environment variable. Off MWAA it defaults
to ``local``; on MWAA (``MWAA_AIRFLOW_COMPONENT`` is set) a missing value is an error, so a
misconfigured deployment fails its DAG imports instead of running laptop settings. Only the names
of the shipped files are accepted. Nothing here touches Airflow Variables or the metadata DB, so
DAG parsing stays fast and deterministic. The schema is a set of pydantic models: a missing,
unknown or ill-typed key raises ``ConfigError`` naming the file and the dotted key.
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
import types
from collections.abc import Mapping
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    model_validator,
)

ENV_VAR = "DATAPLATFORM_ENV"
DEFAULT_ENVIRONMENT = "local"
# Set by MWAA on every Airflow component (scheduler, worker, webserver, dag processor).
MWAA_MARKER = "MWAA_AIRFLOW_COMPONENT"

# Databricks Runtime LTS releases the project's code runs on, and their Python ("System
# environment" of each release's notes). The dbt-runner wheel and the DAG code need Python 3.12.
RUNTIME_PYTHON = {"16.4": "3.12", "17.3": "3.12"}
SPARK_VERSION = re.compile(r"(?P<release>\d+\.\d+)\.x-(photon-|cpu-ml-)?scala2\.1[23]")


class ConfigError(ValueError):
    """Raised when an environment file is missing, unreadable or does not match the schema."""


def _pattern(regex: str) -> type[str]:
    return Annotated[StrictStr, StringConstraints(pattern=regex)]  # type: ignore[return-value]


Text = _pattern(r"\S")
AbsolutePath = _pattern(r"^/")
Identifier = _pattern(r"^[a-z_][a-z0-9_]*$")  # a Unity Catalog catalog or schema name


def _workspace_id(regex: str, example: str, where: str) -> type[str]:
    """An id as the Jobs API wants it, not a display name; refused with where to find it."""
    shape = re.compile(regex)

    def check(value: str) -> str:
        if not shape.fullmatch(value):
            raise ValueError(f"must be an id like {example!r}, not a name: copy it from {where}")
        return value

    return Annotated[StrictStr, AfterValidator(check)]  # type: ignore[return-value]


PolicyId = _workspace_id(r"[0-9A-F]{16}", "ABCD000000000000", "Compute > Policies")
InstancePoolId = _workspace_id(
    r"\d{4}-\d{6}-[a-z0-9]+-pool-[A-Za-z0-9]+",
    "0101-120000-brick1-pool-ABCD1234",
    "Compute > Pools",
)
ApplicationId = _workspace_id(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "6d9e1c2a-0b1f-4c3e-9a7d-2f4b5c6d7e8f",
    "the service principal's Application ID (Settings > Identity and access)",
)
Email = _pattern(r"^[^@\s]+@[^@\s]+$")
SecretName = _pattern(r"^[A-Za-z0-9_.-]{1,128}$")  # a secret scope or key, as Databricks allows
Count = Annotated[StrictInt, Field(ge=0)]
Positive = Annotated[StrictInt, Field(gt=0)]
Tags = Annotated[Mapping[StrictStr, StrictStr], AfterValidator(types.MappingProxyType)]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Owner(_Table):
    """Who owns the DAGs and how failed tasks are retried (exponential backoff)."""

    name: Text
    retries: Count
    retry_delay_seconds: Positive
    max_retry_delay_seconds: Positive

    @model_validator(mode="after")
    def _delays(self) -> Owner:
        if self.max_retry_delay_seconds < self.retry_delay_seconds:
            raise ValueError("max_retry_delay_seconds must be >= retry_delay_seconds")
        return self


class Databricks(_Table):
    """Which workspace connection to use and where deployed notebooks and wheels live."""

    conn_id: Text
    notebook_dir: AbsolutePath
    wheel_dir: AbsolutePath
    polling_period_seconds: Positive
    # A deferred task resumes no sooner than this after it deferred (see dataplatform.deferral).
    min_deferral_seconds: Positive


class UnityCatalog(_Table):
    """Where the tables live: every table name the project writes is ``catalog.schema.table``."""

    catalog: Identifier
    raw_schema: Identifier = "raw"
    curated_schema: Identifier = "curated"

    def table(self, schema: str, table: str) -> str:
        return f"{self.catalog}.{schema}.{table}"


class Autoscale(_Table):
    min_workers: Count
    max_workers: Count

    @model_validator(mode="after")
    def _range(self) -> Autoscale:
        if self.max_workers < self.min_workers:
            raise ValueError("max_workers must be >= min_workers")
        return self


def _supported_runtime(spark_version: str) -> str:
    match = SPARK_VERSION.fullmatch(spark_version)
    if not match or match["release"] not in RUNTIME_PYTHON:
        raise ValueError(
            f"must be a Databricks LTS runtime running Python 3.12, one of "
            f"{', '.join(f'{r}.x-scala2.1x' for r in RUNTIME_PYTHON)}"
        )
    return spark_version


class Cluster(_Table):
    """Job cluster defaults; ``tags`` become custom_tags for cost attribution.

    ``data_security_mode`` SINGLE_USER runs the cluster as ``single_user_name`` (the service
    principal's application id): a job cluster serves one identity, and dedicated access mode
    keeps the full Spark API on Unity Catalog. USER_ISOLATION (standard mode) needs no principal.
    """

    spark_version: Annotated[StrictStr, AfterValidator(_supported_runtime)]
    autoscale: Autoscale
    tags: Tags
    node_type_id: Text | None = None
    instance_pool_id: InstancePoolId | None = None
    policy_id: PolicyId | None = None
    data_security_mode: Literal["SINGLE_USER", "USER_ISOLATION"]
    single_user_name: ApplicationId | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Cluster:
        if "cost_center" not in self.tags:
            raise ValueError("tags needs a cost_center key")
        if (self.instance_pool_id is None) == (self.node_type_id is None):
            raise ValueError("set exactly one of node_type_id and instance_pool_id")
        if (self.data_security_mode == "SINGLE_USER") != (self.single_user_name is not None):
            raise ValueError(
                "single_user_name is set exactly when data_security_mode is SINGLE_USER"
            )
        return self

    @property
    def python(self) -> str:
        """The Python version of ``spark_version`` (major.minor)."""
        release = SPARK_VERSION.fullmatch(self.spark_version)["release"]  # type: ignore[index]
        return RUNTIME_PYTHON[release]


class Timeouts(_Table):
    """``run_seconds`` caps each Databricks run (timeout_seconds); ``task_seconds`` each Airflow
    task try (execution_timeout), so it must leave room for the run and its cluster start."""

    run_seconds: Positive
    task_seconds: Positive

    @model_validator(mode="after")
    def _order(self) -> Timeouts:
        if self.task_seconds <= self.run_seconds:
            raise ValueError("task_seconds must be > run_seconds")
        return self


class Alerts(_Table):
    """Where failure and late-run alerts go (no target: the triggerer's log only, e.g. on a
    laptop), and when a DAG run is late: ``late_run_seconds`` after it was queued and still not
    finished (a deadline alert on every DAG; the run goes on)."""

    late_run_seconds: Positive
    slack_conn_id: Text | None = None
    slack_channel: Text | None = None
    email: tuple[Email, ...] = ()
    smtp_conn_id: Text = "smtp_default"

    @model_validator(mode="after")
    def _slack(self) -> Alerts:
        if (self.slack_conn_id is None) != (self.slack_channel is None):
            raise ValueError("slack_channel is set exactly when slack_conn_id is set")
        return self


class DbtCredentials(_Table):
    """Keys of a Databricks secret scope holding the SQL warehouse dbt sends its SQL to.

    The values reach dbt as ``{{secrets/<scope>/<key>}}`` references in the job cluster's
    spark_env_vars; authenticate with a service principal (client id + secret, OAuth M2M) or
    a token.
    """

    scope: SecretName
    host_key: SecretName
    http_path_key: SecretName
    client_id_key: SecretName | None = None
    client_secret_key: SecretName | None = None
    token_key: SecretName | None = None

    @model_validator(mode="after")
    def _one_auth(self) -> DbtCredentials:
        oauth = (self.client_id_key, self.client_secret_key)
        if None not in oauth and self.token_key is None:
            return self
        if oauth == (None, None) and self.token_key is not None:
            return self
        raise ValueError("set client_id_key and client_secret_key (OAuth M2M), or token_key")


class Dbt(_Table):
    """dbt target, selector and credentials (the dbt-runner wheel's versioned file name is a
    build output shipped beside the DAGs, see ``dbt_manifest.bundled_runner_wheel``).

    ``credentials`` is absent where the target needs none (local: dbt-spark over Spark Connect).
    """

    target: Text
    select: Text
    credentials: DbtCredentials | None = None
    # How many dbt processes one job cluster runs at once; the model-level DAG adds clusters
    # (and jobs) rather than exceed it. At most Databricks' 150 execution contexts per cluster.
    parallel_tasks_per_cluster: Annotated[StrictInt, Field(ge=1, le=150)] = 150
    # Models one task of the model-level DAG builds (one folder, one graph depth: dbt_grouping);
    # 1 is a task per model. More means fewer dbt processes; a failure reruns the whole group.
    models_per_task: Annotated[StrictInt, Field(ge=1, le=1000)] = 1


class Environment(_Table):
    """Everything that differs between ``local``, ``test`` and ``prod``."""

    name: str
    owner: Owner
    databricks: Databricks
    unity_catalog: UnityCatalog
    cluster: Cluster
    timeouts: Timeouts
    alerts: Alerts
    dbt: Dbt
    # The AWS side (MWAA environment, bucket, network, alarms) of deployed environments: typed
    # and checked by the CDK app's own loader (infra/aws/settings.py, the `aws` resolve).
    mwaa: dict[str, Any] | None = None


def load_environment(name: str | None = None) -> Environment:
    """Return environment ``name``, or the one ``$DATAPLATFORM_ENV`` names (see module doc)."""
    return _load_packaged(name or _environment_from_os())


def _environment_from_os() -> str:
    name = os.environ.get(ENV_VAR, "")
    if name:
        return name
    if os.environ.get(MWAA_MARKER):
        raise ConfigError(
            f"{ENV_VAR} is not set on MWAA ({MWAA_MARKER}={os.environ[MWAA_MARKER]}); export it "
            f"in the environment's startup script as one of {', '.join(environment_names())}"
        )
    return DEFAULT_ENVIRONMENT


def environment_names() -> list[str]:
    """Names of the environment files shipped with the package."""
    folder = resources.files("dataplatform").joinpath("environments")
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


@functools.cache
def _load_packaged(name: str) -> Environment:
    if name not in environment_names():  # never a path: only the shipped files
        raise ConfigError(
            f"{ENV_VAR}={name!r} is not an environment; choose one of "
            f"{', '.join(environment_names())}"
        )
    resource = resources.files("dataplatform").joinpath("environments", f"{name}.toml")
    return parse_environment(name, resource.read_text(encoding="utf-8"), source=f"{name}.toml")


def parse_environment(name: str, text: str, source: str) -> Environment:
    """Parse TOML ``text`` of environment ``name``; ``source`` names the file in errors."""
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from exc
    if "name" in table:
        raise ConfigError(f"{source}: unknown key name (the file name is the environment name)")
    try:
        return Environment.model_validate({**table, "name": name})
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc.errors()[0])}") from None


def _describe(error: Mapping) -> str:
    """One pydantic error as ``dotted.key: what is wrong, got <value>``."""
    key = ".".join(str(part) for part in error["loc"] if not str(part).startswith("function-"))
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"missing key {key}"
    if error["type"] == "extra_forbidden":
        return f"unknown key {key}"
    if isinstance(error["input"], dict):  # a rule across the keys of one table
        return f"{key}: {message}"
    return f"{key}: {message}, got {error['input']!r}"
