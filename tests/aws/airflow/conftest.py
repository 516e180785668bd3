"""Airflow configured with exactly the options the `test` stack gives MWAA, against moto's
Secrets Manager and the local Databricks emulator.

Under Pants the template, the emulator, moto's server and the secrets CLI are built into the
sandbox (runtime package dependencies); by hand, they are taken from dist/ (`./pants package
infra/aws:test libs/local_databricks:emulator infra/deploy:secrets-put
tests/aws/airflow:moto-server`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.moto_server import moto_server
from local_stack.airflow_home import airflow_environment, migrate_database
from local_stack.emulator_process import EmulatorEndpoint, EmulatorProcess

REPO = Path(__file__).resolve().parents[3]
DAGS_FOLDER = REPO / "airflow" / "dags"
TEMPLATE = "aws/test/template.json"
MOTO_PEX = "tests.aws.airflow/moto-server.pex"
SECRETS_PEX = "infra.deploy/secrets-put.pex"
EMULATOR_PEX = "libs.local_databricks/emulator.pex"
AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
       "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip

_airflow_home: Path | None = None


def artifact(relative: str) -> Path:
    """A packaged artifact: at its dist-relative path in the Pants sandbox, else in dist/."""
    for candidate in (Path(relative), REPO / "dist" / relative):
        if candidate.is_file():
            return candidate.resolve()
    raise FileNotFoundError(f"{relative} is not built: see this file's docstring")


def stack_airflow_options() -> dict[str, str]:
    """AirflowConfigurationOptions of the MWAA environment in the synthesized `test` template."""
    template = json.loads(artifact(TEMPLATE).read_text())
    [environment] = [r for r in template["Resources"].values()
                     if r["Type"] == "AWS::MWAA::Environment"]  # fmt: skip
    return environment["Properties"]["AirflowConfigurationOptions"]


def as_environment(options: dict[str, str]) -> dict[str, str]:
    """MWAA hands each `section.key` option to Airflow as AIRFLOW__SECTION__KEY."""
    return {f"AIRFLOW__{k.split('.')[0].upper()}__{k.split('.')[1].upper()}": v
            for k, v in options.items()}  # fmt: skip


def pytest_configure(config):
    """Airflow reads its configuration when first imported: set it up before the tests import it."""
    global _airflow_home
    _airflow_home = Path(tempfile.mkdtemp(prefix="aws-airflow-"))
    os.environ.update(airflow_environment(_airflow_home, DAGS_FOLDER))
    os.environ.update(as_environment(stack_airflow_options()))
    os.environ.update(AWS)
    os.environ["DATAPLATFORM_ENV"] = "test"  # the DAGs read the test environment's config


def pytest_unconfigure(config):
    if _airflow_home is not None:
        shutil.rmtree(_airflow_home, ignore_errors=True)


def without_pex_variables() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PEX")}


@pytest.fixture(scope="session")
def secrets_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's server on a loopback port; Airflow's boto3 clients reach it via AWS_ENDPOINT_URL."""
    log = tmp_path_factory.mktemp("moto") / "server.log"
    command = [sys.executable, str(artifact(MOTO_PEX))]
    with moto_server(command, log, env=without_pex_variables()) as url:
        os.environ["AWS_ENDPOINT_URL"] = url
        yield url


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorEndpoint]:
    state_dir = tmp_path_factory.mktemp("emulator")
    with EmulatorProcess(artifact(EMULATOR_PEX), state_dir, state_dir / "emulator.log") as endpoint:
        migrate_database()
        yield endpoint


def put_secret(connection: str, stdin: str) -> subprocess.CompletedProcess[str]:
    """`deploy.secrets put --environment test <connection>`, the operator's command."""
    return subprocess.run(
        [sys.executable, str(artifact(SECRETS_PEX)), "put", "--environment", "test", connection],
        input=stdin, env=without_pex_variables(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
