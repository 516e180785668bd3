"""The bundle's objects in a versioned S3 bucket: upload, DAG folder sync, restore of a release.

MWAA reads requirements.txt, plugins.zip and startup.sh by object version, and syncs dags/ from
the bucket continuously; versioning keeps every older object so a release can come back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from deploy.bundle import SINGLE_OBJECTS, Bundle
from deploy.errors import DeployError
from deploy.releases import ObjectVersion, Release, object_key

Progress = Callable[[str], None]


def require_versioning(s3: Any, bucket: str) -> None:
    """Refuse a bucket without versioning: MWAA needs object versions and rollback old ones."""
    try:
        status = s3.get_bucket_versioning(Bucket=bucket).get("Status", "never enabled")
    except ClientError as error:
        code = error.response["Error"]["Code"]
        raise DeployError(f"--bucket {bucket}: cannot read its versioning ({code}); "
                          "check the bucket name and your AWS credentials") from error
    if status != "Enabled":
        raise DeployError(
            f"--bucket {bucket}: versioning is {status}, MWAA needs a versioned bucket; enable it "
            f"with `aws s3api put-bucket-versioning --bucket {bucket} "
            "--versioning-configuration Status=Enabled`"
        )


def upload_bundle(s3: Any, bucket: str, prefix: str, bundle: Bundle,
                  progress: Progress) -> dict[str, ObjectVersion]:
    """Put every bundle file (single objects first, then dags/), then delete DAG files the bundle
    no longer has. Returns the object version each file became."""
    objects = {}
    for path in (*SINGLE_OBJECTS, *bundle.dags):
        key = object_key(prefix, path)
        response = s3.put_object(Bucket=bucket, Key=key, Body=(bundle.root / path).read_bytes(),
                                 Metadata={"sha256": bundle.files[path]})
        objects[path] = ObjectVersion(key, response["VersionId"], bundle.files[path])
        progress(f"uploaded s3://{bucket}/{key} (version {response['VersionId']})")
    wanted = {v.key for v in objects.values()}
    for key in sorted(live_dags(s3, bucket, prefix).keys() - wanted):
        s3.delete_object(Bucket=bucket, Key=key)
        progress(f"deleted s3://{bucket}/{key} (not in the bundle)")
    return objects


def restore_dags(s3: Any, bucket: str, prefix: str, release: Release, progress: Progress) -> None:
    """Make the release's DAG versions current again (copies of the recorded versions) and
    delete DAG files it did not have. Checks every recorded version exists before changing any."""
    for version in release.objects.values():
        try:
            s3.head_object(Bucket=bucket, Key=version.key, VersionId=version.version_id)
        except ClientError as error:
            raise DeployError(
                f"release {release.name}: s3://{bucket}/{version.key} version "
                f"{version.version_id} is gone ({error.response['Error']['Code']}); "
                "pick another release with --to"
            ) from error
    live = live_dags(s3, bucket, prefix)
    for version in release.dags.values():
        if live.get(version.key) == version.version_id:
            continue
        source = {"Bucket": bucket, "Key": version.key, "VersionId": version.version_id}
        response = s3.copy_object(Bucket=bucket, Key=version.key, CopySource=source)
        progress(f"restored s3://{bucket}/{version.key} from version {version.version_id} "
                 f"(now version {response['VersionId']})")
    wanted = {v.key for v in release.dags.values()}
    for key in sorted(live.keys() - wanted):
        s3.delete_object(Bucket=bucket, Key=key)
        progress(f"deleted s3://{bucket}/{key} (not in release {release.name})")


def live_dags(s3: Any, bucket: str, prefix: str) -> dict[str, str]:
    """Current (not deleted) objects under dags/: key -> version id."""
    live = {}
    pages = s3.get_paginator("list_object_versions").paginate(
        Bucket=bucket, Prefix=object_key(prefix, "dags/")
    )
    for page in pages:
        for version in page.get("Versions", []):
            if version["IsLatest"]:
                live[version["Key"]] = version["VersionId"]
    return live
