"""`deploy.secrets put` writes the Databricks connection where the secrets backend reads it.

Against moto's Secrets Manager on 127.0.0.1, through the CLI as an operator runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from support.moto_server import moto_server

CONNECTION = {"conn_type": "databricks", "host": "dbc-1234.cloud.databricks.com",
              "password": "dapi-not-a-real-token"}  # fmt: skip
SECRET = "dataplatform-test/connections/databricks_test"  # prefix (infra/aws) / conn_id (DAGs)
AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
       "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's server on a free loopback port, in its own process group."""
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with moto_server([sys.executable, "-m", "moto.server"], log) as url:
        yield url


def put(endpoint: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= AWS | {"AWS_ENDPOINT_URL": endpoint, "PYTHONPATH": os.pathsep.join(sys.path)}
    argv = [sys.executable, "-m", "deploy.secrets", "put", *args]
    return subprocess.run(argv, input=stdin, env=env, capture_output=True, text=True, timeout=60)


def stored(endpoint: str) -> dict:
    client = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    return json.loads(client.get_secret_value(SecretId=SECRET)["SecretString"])


def test_put_from_stdin_then_from_a_file_writes_new_versions(endpoint: str, tmp_path: Path) -> None:
    first = put(endpoint, "--environment", "test", "databricks", stdin=json.dumps(CONNECTION))
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"deploy.secrets: wrote {SECRET} (version ")
    assert CONNECTION["password"] not in first.stdout + first.stderr
    assert stored(endpoint) == CONNECTION

    rotated = CONNECTION | {"password": "dapi-rotated"}
    path = tmp_path / "conn.json"
    path.write_text(json.dumps(rotated))
    second = put(endpoint, "--environment", "test", "databricks", "--file", str(path))
    assert second.returncode == 0, second.stderr
    assert stored(endpoint) == rotated


@pytest.mark.parametrize(("text", "message"), [
    ("not json", "stdin: not JSON"),
    (json.dumps(CONNECTION | {"conn_type": "http"}), "conn_type must be 'databricks', got 'http'"),
    (json.dumps({"conn_type": "databricks", "password": "x"}), "host is missing"),
    (json.dumps({"conn_type": "databricks", "host": "h"}), "no token: set password"),
    (json.dumps(CONNECTION | {"token": "x"}), "unknown key 'token'"),
])  # fmt: skip
def test_bad_connection_is_refused_before_any_write(endpoint: str, text: str, message: str) -> None:
    result = put(endpoint, "--environment", "prod", "databricks", stdin=text)
    assert result.returncode == 2
    assert message in result.stderr


def test_unknown_environment_names_the_known_ones(endpoint: str) -> None:
    result = put(endpoint, "--environment", "staging", "databricks", stdin=json.dumps(CONNECTION))
    assert result.returncode == 2
    assert "choose one of prod, test" in result.stderr
