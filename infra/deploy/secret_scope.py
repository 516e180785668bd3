"""Check that the dbt secret scope holds the keys the environment's config names.

The values are the workspace admins' to put (README: dbt credentials); the deploy only lists the
scope's keys (never reads a value) so a missing key fails the deploy instead of a run.
"""

from __future__ import annotations

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound
from dataplatform.config import DbtCredentials


def expected_keys(credentials: DbtCredentials) -> list[str]:
    keys = (
        credentials.host_key,
        credentials.http_path_key,
        credentials.client_id_key,
        credentials.client_secret_key,
        credentials.token_key,
    )
    return [key for key in keys if key is not None]


def scope_problem(client: WorkspaceClient, credentials: DbtCredentials) -> str | None:
    """None when every expected key is in the scope, else what is missing and how to add it."""
    scope = credentials.scope
    try:
        present = {secret.key for secret in client.secrets.list_secrets(scope)}
    except NotFound:
        return (
            f"secret scope {scope} does not exist: create it (databricks secrets create-scope "
            f"{scope}) and put the keys {', '.join(expected_keys(credentials))}"
        )
    missing = [key for key in expected_keys(credentials) if key not in present]
    if missing:
        return (
            f"secret scope {scope} lacks {', '.join(missing)}: put each with "
            f"`databricks secrets put-secret {scope} KEY` (values never come from the repository)"
        )
    return None
