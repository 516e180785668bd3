"""Fixtures for the deploy tests: moto's S3 server on 127.0.0.1, buckets, real MWAA bundles."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import deploy
import mwaa
import pytest

# Where `deploy` and `mwaa` import from, for the CLIs run as subprocesses (one folder under Pants).
SOURCE_ROOTS = os.pathsep.join(
    dict.fromkeys(str(Path(m.__file__).resolve().parents[1]) for m in (deploy, mwaa))
)
TEST_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server on a free port (it prints the port it bound), in its own process group."""
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("w") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
            stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (found := re.search(r"Running on (http://127\.0\.0\.1:\d+)", log.read_text())):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"moto server did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield found.group(1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def s3(s3_endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION, **TEST_CREDENTIALS)


@pytest.fixture
def bucket(s3: Any) -> str:
    """A new versioned bucket, as MWAA requires."""
    name = f"mwaa-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


DeployCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def deploy_cli(s3_endpoint: str) -> DeployCli:
    """Run `python -m deploy.mwaa ARGS` with test credentials from the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
        "AWS_ACCESS_KEY_ID": TEST_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": TEST_CREDENTIALS["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": s3_endpoint,
        "PYTHONPATH": SOURCE_ROOTS,
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "deploy.mwaa", *args]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)

    return run


BuildBundle = Callable[..., Path]


@pytest.fixture(scope="session")
def build_bundle(tmp_path_factory: pytest.TempPathFactory) -> BuildBundle:
    """Run the real `python -m mwaa.build` for `test` over the given DAG files (path -> text).

    Empty pins and constraints keep it offline and fast: the deployer ships whatever bytes the
    builder wrote, so what requirements.txt says does not matter here.
    """
    inputs = tmp_path_factory.mktemp("inputs")
    for name in ("pins.txt", "constraints.txt", "essential.txt"):
        (inputs / name).write_text("")

    def build(out: Path, dags: dict[str, str], plugin: str | None = None) -> Path:
        """``plugin``: text of a plugin module in plugins.zip (to make plugins.zip differ)."""
        dags_dir = out.with_name(f"{out.name}-dags")
        for path, text in dags.items():
            (dags_dir / path).parent.mkdir(parents=True, exist_ok=True)
            (dags_dir / path).write_text(text)
        plugin_args = []
        if plugin is not None:
            module = out.with_name(f"{out.name}-plugin") / "project_plugin.py"
            module.parent.mkdir(parents=True, exist_ok=True)
            module.write_text(plugin)
            plugin_args = ["--plugin", str(module)]
        argv = [
            sys.executable, "-m", "mwaa.build", "--environment", "test", "--out", str(out),
            "--dags-dir", str(dags_dir), "--resolve-pins", str(inputs / "pins.txt"),
            "--airflow-constraints", str(inputs / "constraints.txt"),
            "--essential-constraints", str(inputs / "essential.txt"), *plugin_args,
        ]  # fmt: skip
        env = os.environ | {"PYTHONPATH": SOURCE_ROOTS}
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return out

    return build


@pytest.fixture
def fresh_s3(s3_endpoint: str) -> Any:
    """A client of its own, so a test can hook failures into it without touching others."""
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION, **TEST_CREDENTIALS)


class GateRecorder:
    """Stands in for the gates (tested on their own) in tests about S3 and MWAA; records calls."""

    def __init__(self) -> None:
        self.checked: list[Path] = []

    def __call__(self, root: Path, progress: Callable[[str], None]) -> None:
        self.checked.append(root)


@pytest.fixture
def gates() -> GateRecorder:
    return GateRecorder()
