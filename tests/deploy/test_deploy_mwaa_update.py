"""The MWAA UpdateEnvironment calls of upload and rollback, with S3 real (moto) and MWAA stubbed.

moto has no MWAA backend, so botocore's Stubber stands in: it checks every request against
MWAA's service model and the order of calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import MWAA_NAME, PREFIX, BuildBundle, FakeClock, GateRecorder, Mwaa
from deploy.errors import DeployError
from deploy.mwaa import rollback, upload


def versions(s3: Any, bucket: str, key: str) -> list[str]:
    """Version ids of ``key``, oldest first (S3 lists them newest first)."""
    found = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    return [v["VersionId"] for v in reversed(found) if v["Key"] == key]


def test_upload_then_rollback_send_the_exact_object_versions(
    s3: Any, bucket: str, mwaa: Mwaa, build_bundle: BuildBundle, gates: GateRecorder,
    tmp_path: Path,
) -> None:
    first = build_bundle(tmp_path / "first", {"orders.py": "# v1\n"}, plugin="VERSION = 1\n")
    second = build_bundle(tmp_path / "second", {"orders.py": "# v2\n"}, plugin="VERSION = 2\n")
    for bundle in (first, second):
        mwaa.successful_update()
        upload(s3, lambda: mwaa.client, bundle, "test", bucket, PREFIX, MWAA_NAME,
               lambda _: None, FakeClock().wait(), gates)

    keys = {name: f"{PREFIX}/{name}" for name in ("requirements.txt", "plugins.zip", "startup.sh")}
    history = {name: versions(s3, bucket, key) for name, key in keys.items()}
    # plugins.zip changed, so the second upload put all three objects again (new versions).
    assert [len(history[name]) for name in keys] == [2, 2, 2]
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
    assert mwaa.updates == expected

    # Rollback names the release's MWAA environment and points it at the first upload's
    # versions before it restores the first upload's DAGs.
    mwaa.environment()  # the check
    mwaa.environment()  # where it points now (not at the first release)
    mwaa.stubber.add_response("update_environment", {"Arn": "arn"}, expected[0])
    mwaa.environment("AVAILABLE")
    rollback(s3, lambda: mwaa.client, "test", bucket, PREFIX, None, None, lambda _: None,
             FakeClock().wait())
    assert s3.get_object(Bucket=bucket, Key=f"{PREFIX}/dags/orders.py")["Body"].read() == b"# v1\n"


def test_environment_reading_another_bucket_is_refused_before_upload(
    s3: Any, bucket: str, mwaa: Mwaa, build_bundle: BuildBundle, gates: GateRecorder,
    tmp_path: Path,
) -> None:
    mwaa.bucket = "someone-else"
    mwaa.environment()
    bundle = build_bundle(tmp_path / "bundle", {"orders.py": "# v1\n"})
    refusal = f"reads arn:aws:s3:::someone-else, not --bucket {bucket}"
    with pytest.raises(DeployError, match=refusal):
        upload(s3, lambda: mwaa.client, bundle, "test", bucket, PREFIX, MWAA_NAME,
               lambda _: None, FakeClock().wait(), gates)
    assert s3.list_object_versions(Bucket=bucket).get("Versions", []) == []
    assert mwaa.updates == [] and gates.checked == []


def test_environment_still_updating_is_refused_before_upload(
    s3: Any, bucket: str, mwaa: Mwaa, build_bundle: BuildBundle, gates: GateRecorder,
    tmp_path: Path,
) -> None:
    mwaa.environment("UPDATING")
    bundle = build_bundle(tmp_path / "bundle", {"orders.py": "# v1\n"})
    with pytest.raises(DeployError, match="is UPDATING: deploy when it is AVAILABLE"):
        upload(s3, lambda: mwaa.client, bundle, "test", bucket, PREFIX, MWAA_NAME,
               lambda _: None, FakeClock().wait(), gates)
    assert s3.list_object_versions(Bucket=bucket).get("Versions", []) == []
