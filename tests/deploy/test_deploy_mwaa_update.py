"""The MWAA UpdateEnvironment calls of upload and rollback, with S3 real (moto) and MWAA stubbed.

moto has no MWAA backend, so botocore's Stubber stands in: it checks every request against
MWAA's service model and the order of calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from conftest import REGION, TEST_CREDENTIALS, BuildBundle
from deploy.errors import DeployError
from deploy.mwaa import rollback, upload

MWAA_NAME = "dataplatform-test"
PREFIX = "dp/test"


@pytest.fixture
def mwaa() -> Iterator[tuple[Any, Stubber, list[dict[str, Any]]]]:
    """A stubbed MWAA client and the UpdateEnvironment requests it received."""
    client = boto3.client("mwaa", region_name=REGION, endpoint_url="http://127.0.0.1:9",
                          config=Config(inject_host_prefix=False), **TEST_CREDENTIALS)
    sent: list[dict[str, Any]] = []
    client.meta.events.register(
        "provide-client-params.mwaa.UpdateEnvironment", lambda params, **_: sent.append(params)
    )
    with Stubber(client) as stubber:
        yield client, stubber, sent
        stubber.assert_no_pending_responses()


def expect_environment(stubber: Stubber, bucket: str) -> None:
    stubber.add_response(
        "get_environment",
        {"Environment": {"Name": MWAA_NAME, "SourceBucketArn": f"arn:aws:s3:::{bucket}"}},
        {"Name": MWAA_NAME},
    )


def versions(s3: Any, bucket: str, key: str) -> list[str]:
    """Version ids of ``key``, oldest first (S3 lists them newest first)."""
    found = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    return [v["VersionId"] for v in reversed(found) if v["Key"] == key]


def test_upload_then_rollback_send_the_exact_object_versions(
    s3: Any, bucket: str, mwaa: tuple[Any, Stubber, list], build_bundle: BuildBundle,
    tmp_path: Path,
) -> None:
    client, stubber, sent = mwaa
    arn = {"Arn": f"arn:aws:airflow:{REGION}:123456789012:environment/{MWAA_NAME}"}
    first = build_bundle(tmp_path / "first", {"orders.py": "# v1\n"})
    second = build_bundle(tmp_path / "second", {"orders.py": "# v2\n"})
    for bundle in (first, second):
        expect_environment(stubber, bucket)
        stubber.add_response("update_environment", arn)
        upload(s3, lambda: client, bundle, "test", bucket, PREFIX, MWAA_NAME, lambda _: None)

    keys = {name: f"{PREFIX}/{name}" for name in ("requirements.txt", "plugins.zip", "startup.sh")}
    history = {name: versions(s3, bucket, key) for name, key in keys.items()}
    assert all(len(ids) == 2 for ids in history.values())
    expected = [
        {
            "Name": MWAA_NAME,
            "DagS3Path": f"{PREFIX}/dags",
            "RequirementsS3Path": keys["requirements.txt"],
            "RequirementsS3ObjectVersion": history["requirements.txt"][n],
            "PluginsS3Path": keys["plugins.zip"],
            "PluginsS3ObjectVersion": history["plugins.zip"][n],
            "StartupScriptS3Path": keys["startup.sh"],
            "StartupScriptS3ObjectVersion": history["startup.sh"][n],
        }
        for n in (0, 1)
    ]
    assert sent == expected

    # Rollback names the release's MWAA environment and points it at the first upload's versions.
    expect_environment(stubber, bucket)
    stubber.add_response("update_environment", arn, expected[0])
    rollback(s3, lambda: client, "test", bucket, PREFIX, None, None, lambda _: None)
    assert s3.get_object(Bucket=bucket, Key=f"{PREFIX}/dags/orders.py")["Body"].read() == b"# v1\n"


def test_environment_reading_another_bucket_is_refused_before_upload(
    s3: Any, bucket: str, mwaa: tuple[Any, Stubber, list], build_bundle: BuildBundle,
    tmp_path: Path,
) -> None:
    client, stubber, sent = mwaa
    stubber.add_response(
        "get_environment",
        {"Environment": {"Name": MWAA_NAME, "SourceBucketArn": "arn:aws:s3:::someone-else"}},
        {"Name": MWAA_NAME},
    )
    bundle = build_bundle(tmp_path / "bundle", {"orders.py": "# v1\n"})
    refusal = f"reads arn:aws:s3:::someone-else, not --bucket {bucket}"
    with pytest.raises(DeployError, match=refusal):
        upload(s3, lambda: client, bundle, "test", bucket, PREFIX, MWAA_NAME, lambda _: None)
    assert s3.list_object_versions(Bucket=bucket).get("Versions", []) == []
    assert sent == []


def test_failed_update_leaves_s3_release_live_and_says_how_to_retry(
    s3: Any, bucket: str, mwaa: tuple[Any, Stubber, list], build_bundle: BuildBundle,
    tmp_path: Path,
) -> None:
    client, stubber, _ = mwaa
    expect_environment(stubber, bucket)
    stubber.add_client_error("update_environment", "ValidationException", "environment busy")
    bundle = build_bundle(tmp_path / "bundle", {"orders.py": "# v1\n"})
    with pytest.raises(DeployError, match="rollback --to") as refused:
        upload(s3, lambda: client, bundle, "test", bucket, PREFIX, MWAA_NAME, lambda _: None)
    current = s3.get_object(Bucket=bucket, Key=f"{PREFIX}/releases/CURRENT")["Body"].read()
    assert f"S3 holds release {current.decode().strip()}" in str(refused.value)
