"""Which profiles.yml a run uses, and whether its target's credentials are in the environment.

Order: --profiles-dir, then $DBT_PROFILES_DIR, then the project's own profiles.yml (the packaged
project ships one), then ~/.dbt/ as dbt itself falls back to.

On Databricks the test/prod targets read the SQL warehouse's host, HTTP path and credentials
from env vars that the job cluster gets from a secret scope (spark_env_vars). A missing one is
named here before dbt starts, instead of dbt failing later with a bare exit status.
"""

import os
import re
from collections.abc import Mapping
from pathlib import Path

import yaml  # pants: no-infer-dep (PyYAML is a requirement of dbt-core)

from dbt_runner.project import project_config

_ENV_VAR = re.compile(r"env_var\(\s*['\"](\w+)['\"]")
# Fields of a dbt-databricks output: needed ones, then the alternative ways to authenticate.
_DATABRICKS_REQUIRED = ("host", "http_path")
_DATABRICKS_AUTH = (("token",), ("client_id", "client_secret"))
SECRET_SCOPE_HINT = (
    "On a Databricks job cluster these env vars come from a secret scope through the cluster's "
    'spark_env_vars, e.g. "DATABRICKS_HOST": "{{secrets/<scope>/<key>}}" (see dbt/README.md).'
)


def profiles_dir(explicit: Path | None, project: Path) -> Path:
    """The directory whose profiles.yml dbt reads for this run."""
    if explicit:
        return explicit
    if os.environ.get("DBT_PROFILES_DIR"):
        return Path(os.environ["DBT_PROFILES_DIR"])
    if (project / "profiles.yml").is_file():
        return project
    return Path.home() / ".dbt"


def _field_missing(output: dict, field: str, env: Mapping[str, str]) -> list[str]:
    """What one profile field lacks: the env vars it reads when none is set, or the field."""
    value = output.get(field)
    if value in (None, ""):
        return [f"`{field}` in the profile"]
    names = _ENV_VAR.findall(str(value))
    if names and not any(env.get(name) for name in names):
        return names
    return []


def missing_credentials(
    profiles: Path, project: Path, target: str, env: Mapping[str, str] = os.environ
) -> str | None:
    """The error message when a dbt-databricks target lacks a host, HTTP path or credentials."""
    path = profiles / "profiles.yml"
    if not path.is_file():
        return (
            f"dbt-runner: no profiles.yml in {profiles}: pass --profiles-dir DIR or set "
            "DBT_PROFILES_DIR (the packaged project ships its own profiles.yml)"
        )
    profile_name = project_config(project).get("profile")
    outputs = ((yaml.safe_load(path.read_text()) or {}).get(profile_name) or {}).get("outputs", {})
    output = outputs.get(target)
    if not isinstance(output, dict) or output.get("type") != "databricks":
        return None  # dbt reports unknown targets itself; other adapters are not checked here
    problems = [
        f"{name} is not set"
        for field in _DATABRICKS_REQUIRED
        for name in _field_missing(output, field, env)
    ]
    auth_options = [
        [name for field in option for name in _field_missing(output, field, env)]
        for option in _DATABRICKS_AUTH
    ]
    if all(auth_options):
        token, oauth = auth_options
        problems.append(
            f"no credentials: set {' and '.join(token)} (personal access token), or "
            f"{' and '.join(oauth)} (OAuth machine-to-machine, a service principal)"
        )
    if not problems:
        return None
    return (
        f"dbt-runner: target {target!r} of profile {profile_name!r} ({path}) connects to a "
        f"Databricks SQL warehouse but {'; '.join(problems)}. {SECRET_SCOPE_HINT}"
    )
