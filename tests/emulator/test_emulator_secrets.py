"""Secrets API through databricks-sdk, dbutils.secrets in a notebook, redaction of values read."""

from __future__ import annotations

import base64
import stat
import urllib.request

import pytest
from conftest import notebook_task, upload_notebook, wait_done
from databricks.sdk.errors import BadRequest, InvalidParameterValue, NotFound, ResourceAlreadyExists
from databricks.sdk.service import jobs
from local_databricks.errors import ApiError
from local_databricks.layout import StateLayout
from local_databricks.secrets import SecretStore


def test_scope_and_secret_round_trip(client, emulator):
    client.secrets.create_scope("round-trip")
    with pytest.raises(ResourceAlreadyExists, match="round-trip"):
        client.secrets.create_scope("round-trip")
    client.secrets.put_secret("round-trip", "db.password", string_value="s3cr3t-value")
    client.secrets.put_secret(
        "round-trip", "cert", bytes_value=base64.b64encode(b"\x00\x01binary").decode()
    )
    client.secrets.put_secret("round-trip", "db.password", string_value="rotated-value")

    assert "round-trip" in [scope.name for scope in client.secrets.list_scopes()]
    listed = client.secrets.list_secrets("round-trip")
    assert sorted(secret.key for secret in listed) == ["cert", "db.password"]
    assert all(secret.last_updated_timestamp for secret in listed)
    raw = client.api_client.do("GET", "/api/2.0/secrets/list", query={"scope": "round-trip"})
    assert "rotated-value" not in str(raw) and "value" not in raw["secrets"][0]

    state_file = StateLayout(emulator["state_dir"]).secrets_file
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600

    client.secrets.delete_secret("round-trip", "cert")
    with pytest.raises(NotFound, match="cert"):
        client.secrets.delete_secret("round-trip", "cert")
    client.secrets.delete_scope("round-trip")
    with pytest.raises(NotFound, match="round-trip"):
        client.secrets.list_secrets("round-trip")
    with pytest.raises(NotFound, match="round-trip"):
        client.secrets.put_secret("round-trip", "k", string_value="v")


def test_names_values_and_secrets_get_are_checked_as_on_the_service(client):
    with pytest.raises(InvalidParameterValue, match="letters, digits"):
        client.secrets.create_scope("bad scope!")
    client.secrets.create_scope("checked")
    with pytest.raises(InvalidParameterValue, match="Exactly one"):
        client.secrets.put_secret("checked", "k")
    with pytest.raises(InvalidParameterValue, match="128 KB"):
        client.secrets.put_secret("checked", "big", string_value="x" * (128 * 1024 + 1))
    client.secrets.put_secret("checked", "k", string_value="v")
    with pytest.raises(BadRequest, match="dbutils.secrets.get"):
        client.secrets.get_secret("checked", "k")


def test_references_resolve_from_the_store_and_a_missing_one_names_it(client, emulator):
    client.secrets.create_scope("refs")
    client.secrets.put_secret("refs", "token", string_value="tok-123")
    store = SecretStore(StateLayout(emulator["state_dir"]))
    assert store.resolve_references("Bearer {{secrets/refs/token}}", "x") == "Bearer tok-123"
    with pytest.raises(ApiError) as missing:
        store.resolve_references("{{secrets/refs/absent}}", "spark_env_vars.DBT_TOKEN")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert "spark_env_vars.DBT_TOKEN" in missing.value.message
    assert "scope: refs and key: absent" in missing.value.message


def test_notebook_reads_secret_and_its_value_is_redacted_in_output(client):
    client.secrets.create_scope("app")
    client.secrets.put_secret("app", "api-key", string_value="sk-live-4242")
    upload_notebook(
        client,
        "/Users/dev/uses_secret",
        """
key = dbutils.secrets.get("app", "api-key")
assert key == "sk-live-4242" and dbutils.secrets.getBytes("app", "api-key") == b"sk-live-4242"
assert [m.key for m in dbutils.secrets.list("app")] == ["api-key"]
assert "app" in [s.name for s in dbutils.secrets.listScopes()]
print("the key is", key)
dbutils.notebook.exit(f"used {key}")
""",
    )
    run_id = client.jobs.submit(
        run_name="secret", tasks=[notebook_task("secret", "/Users/dev/uses_secret")]
    ).response.run_id
    run = wait_done(client, run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state.state_message
    output = client.jobs.get_run_output(run.tasks[0].run_id)
    assert output.notebook_output.result == "used [REDACTED]"
    with urllib.request.urlopen(run.run_page_url) as response:
        page = response.read().decode()
    assert "the key is [REDACTED]" in page
    assert "sk-live-4242" not in page


def test_missing_secret_fails_the_notebook_run_as_on_databricks(client):
    client.secrets.create_scope("present")
    upload_notebook(
        client, "/Users/dev/missing_secret", 'dbutils.secrets.get("present", "nope")\n'
    )
    run_id = client.jobs.submit(
        run_name="missing", tasks=[notebook_task("missing", "/Users/dev/missing_secret")]
    ).response.run_id
    run = wait_done(client, run_id)
    assert run.state.result_state == jobs.RunResultState.FAILED
    output = client.jobs.get_run_output(run.tasks[0].run_id)
    assert output.error == (
        "IllegalArgumentException: Secret does not exist with scope: present and key: nope"
    )
