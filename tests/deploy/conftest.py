"""Fixtures for the deploy tests: moto's S3 server on 127.0.0.1, buckets, real MWAA bundles."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import deploy
import mwaa
import pytest
from support.moto_server import moto_server
from botocore.config import Config
from botocore.stub import Stubber
from deploy.mwaa_environment import Wait

# Where `deploy` and `mwaa` import from, for the CLIs run as subprocesses (one folder under Pants).
SOURCE_ROOTS = os.pathsep.join(
    dict.fromkeys(str(Path(m.__file__).resolve().parents[1]) for m in (deploy, mwaa))
)
# The checkout; under Pants the sandbox root. The deploy CLI runs there, as `./pants run` does,
# so it finds MWAA's pinned constraint files (3rdparty/mwaa) for mwaa.validate.
REPO_ROOT = next(
    p for p in (Path.cwd(), *Path(__file__).resolve().parents) if (p / "3rdparty" / "mwaa").is_dir()
)
TEST_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server on a free port (it prints the port it bound), in its own process group."""
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with moto_server([sys.executable, "-m", "moto.server"], log) as url:
        yield url


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
def deploy_cli(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> DeployCli:
    """Run `python -m deploy.mwaa ARGS` with test credentials from the environment (and the
    gates' validation cache in a temporary folder)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
        "XDG_CACHE_HOME": str(tmp_path_factory.getbasetemp() / "cache"),
        "AWS_ACCESS_KEY_ID": TEST_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": TEST_CREDENTIALS["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": s3_endpoint,
        "PYTHONPATH": SOURCE_ROOTS,
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "deploy.mwaa", *args]
        # A generous timeout: the gates' first validation builds an Airflow venv.
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900,
                              cwd=REPO_ROOT)

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


MWAA_NAME = "dataplatform-test"
PREFIX = "dp/test"
ARN = {"Arn": f"arn:aws:airflow:{REGION}:123456789012:environment/{MWAA_NAME}"}
SINGLE = {"Requirements": "requirements.txt", "Plugins": "plugins.zip",
          "StartupScript": "startup.sh"}


class Mwaa:
    """A stubbed MWAA client: queue GetEnvironment answers and UpdateEnvironment calls."""

    def __init__(self, bucket: str) -> None:
        self.client = boto3.client("mwaa", region_name=REGION, endpoint_url="http://127.0.0.1:9",
                                   config=Config(inject_host_prefix=False), **TEST_CREDENTIALS)
        self.stubber = Stubber(self.client)
        self.bucket = bucket
        self.updates: list[dict[str, Any]] = []
        self.client.meta.events.register("provide-client-params.mwaa.UpdateEnvironment",
                                         lambda params, **_: self.updates.append(params))

    def environment(self, status: str = "AVAILABLE", objects: dict[str, Any] | None = None,
                    error: str | None = None) -> None:
        answer: dict[str, Any] = {"Name": MWAA_NAME, "Status": status,
                                  "SourceBucketArn": f"arn:aws:s3:::{self.bucket}"}
        for field, path in SINGLE.items():
            if objects:
                answer[f"{field}S3Path"] = objects[path]["key"]
                answer[f"{field}S3ObjectVersion"] = objects[path]["version_id"]
        if error:
            answer["LastUpdate"] = {"Status": "FAILED",
                                    "Error": {"ErrorCode": "Requirements", "ErrorMessage": error}}
        self.stubber.add_response("get_environment", {"Environment": answer},
                                  {"Name": MWAA_NAME})

    def update_accepted(self) -> None:
        self.stubber.add_response("update_environment", ARN)

    def successful_update(self) -> None:
        """What one upload that changes the environment asks: check, update, status."""
        self.environment()
        self.update_accepted()
        self.environment("UPDATING")
        self.environment("AVAILABLE")


@pytest.fixture
def mwaa(bucket: str) -> Iterator[Mwaa]:
    fake = Mwaa(bucket)
    with fake.stubber:
        yield fake
        fake.stubber.assert_no_pending_responses()


class FakeClock:
    """Time that moves only when the deploy sleeps between status checks."""

    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def wait(self, timeout: float = 3600) -> Wait:
        return Wait(timeout, 30, sleep=self.sleep, clock=lambda: self.now)
