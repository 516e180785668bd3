"""Write an Airflow connection into the environment's Secrets Manager backend.

    python -m deploy.secrets put --environment test databricks < connection.json
    python -m deploy.secrets put --environment test databricks --file connection.json

The connection is Airflow's JSON form ({"conn_type": "databricks", "host": ..., "password":
TOKEN, ...}), read from stdin or a file, never from the command line (argv shows in process
lists and shell history). It is stored as `<connections_prefix>/<conn_id>`, both from the
environment's file (libs/dataplatform/.../environments/<env>.toml): the prefix the MWAA stack
gives Airflow's SecretsManagerBackend ([mwaa.secrets]) and the connection id the DAGs use
([databricks] conn_id). Credentials and
region come from the AWS default chain; AWS_ENDPOINT_URL targets another endpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from aws.settings import SettingsError, load_mwaa

# Connections the DAG config names: CLI name -> (config table, key holding the conn id, type).
CONNECTIONS = {"databricks": ("databricks", "conn_id", "databricks")}
CONNECTION_KEYS = {
    "conn_type", "description", "host", "login", "password", "schema", "port", "extra",
}  # fmt: skip


class SecretsError(ValueError):
    """Bad input or a failed write; the message names the input and the fix."""


def conn_id(environment: str, connection: str) -> str:
    """The connection id the DAGs of ``environment`` use for ``connection``."""
    table, key, _ = CONNECTIONS[connection]
    resource = resources.files("dataplatform").joinpath("environments", f"{environment}.toml")
    if not resource.is_file():
        raise SecretsError(f"environment {environment!r} has no dataplatform/environments file")
    config = tomllib.loads(resource.read_text(encoding="utf-8"))
    try:
        return config[table][key]
    except KeyError:
        raise SecretsError(f"{environment}.toml has no [{table}] {key}") from None


def secret_name(environment: str, connection: str) -> str:
    prefix = load_mwaa(environment).secrets.connections_prefix
    return f"{prefix}/{conn_id(environment, connection)}"


def parse_connection(text: str, connection: str, source: str) -> str:
    """Check the JSON form Airflow's Connection.from_json reads; return it normalised."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise SecretsError(f"{source}: not JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(value, dict):
        raise SecretsError(f"{source}: expected a JSON object with conn_type, host, password")
    unknown = sorted(set(value) - CONNECTION_KEYS)
    if unknown:
        raise SecretsError(f"{source}: unknown key {unknown[0]!r} "
                           f"(Airflow's JSON connection has {', '.join(sorted(CONNECTION_KEYS))})")
    expected_type = CONNECTIONS[connection][2]
    if value.get("conn_type") != expected_type:
        raise SecretsError(f"{source}: conn_type must be {expected_type!r}, "
                           f"got {value.get('conn_type')!r}")
    if not value.get("host"):
        raise SecretsError(f"{source}: host is missing (the workspace URL or host name)")
    extra = value.get("extra") or {}
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except json.JSONDecodeError:
            raise SecretsError(f"{source}: extra must be a JSON object or its text") from None
    if not isinstance(extra, dict):
        raise SecretsError(f"{source}: extra must be a JSON object or its text")
    if not (value.get("password") or extra.get("token")):
        raise SecretsError(f"{source}: no token: set password (a personal access token or "
                           f"service principal token) or extra.token")
    return json.dumps(value, sort_keys=True)


def put(client: Any, name: str, secret: str) -> str:
    """Create the secret or store a new version of it; return the version id."""
    try:
        response = client.create_secret(Name=name, SecretString=secret,
                                        Description="Airflow connection (dataplatform)")
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceExistsException":
            raise
        response = client.put_secret_value(SecretId=name, SecretString=secret)
    return response["VersionId"]


def read_input(path: Path | None) -> tuple[str, str]:
    if path is None:
        if sys.stdin.isatty():
            raise SecretsError("pipe the connection JSON into stdin or pass --file PATH")
        return sys.stdin.read(), "stdin"
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as error:
        raise SecretsError(f"--file {path}: {error.strerror}") from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    put_args = commands.add_parser("put", help="write a connection (JSON on stdin or --file)")
    put_args.add_argument("--environment", required=True, help="test or prod")
    put_args.add_argument("connection", choices=sorted(CONNECTIONS))
    put_args.add_argument("--file", type=Path, help="read the JSON from this file, not stdin")
    put_args.add_argument("--region", help="AWS region (default: from the AWS configuration)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        name = secret_name(args.environment, args.connection)
        text, source = read_input(args.file)
        secret = parse_connection(text, args.connection, source)
        client = boto3.client("secretsmanager", region_name=args.region)
        version = put(client, name, secret)
    except (SecretsError, SettingsError) as error:
        print(f"deploy.secrets: {error}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as error:
        print(f"deploy.secrets: writing secret {name} failed: {error}", file=sys.stderr)
        return 1
    print(f"deploy.secrets: wrote {name} (version {version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
