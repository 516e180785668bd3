"""The bundle's objects in a versioned S3 bucket: upload, undo of an upload, restore of a release.

MWAA reads requirements.txt, plugins.zip and startup.sh by object version, and syncs dags/ from
the bucket continuously; versioning keeps every older object so a release can come back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from deploy.bundle import Bundle
from deploy.errors import DeployError
from deploy.releases import ObjectVersion, Release, object_key

Progress = Callable[[str], None]
AWS_ERRORS = (BotoCoreError, ClientError)


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


class Uploader:
    """Puts bundle files and remembers every object version it created, so that a failed deploy
    can delete exactly those versions (S3 then serves the previous version of each key again)."""

    def __init__(self, s3: Any, bucket: str, prefix: str, bundle: Bundle,
                 progress: Progress) -> None:
        self.s3, self.bucket, self.prefix, self.bundle = s3, bucket, prefix, bundle
        self.progress = progress
        self.created: list[ObjectVersion] = []

    def put(self, paths: Iterable[str]) -> dict[str, ObjectVersion]:
        """Upload ``paths`` (bundle-relative) in order; returns the object version of each."""
        objects = {}
        for path in paths:
            key = object_key(self.prefix, path)
            data = self.bundle.read(path)
            try:
                response = self.s3.put_object(Bucket=self.bucket, Key=key, Body=data,
                                              Metadata={"sha256": self.bundle.files[path]})
            except AWS_ERRORS as error:
                raise DeployError(f"uploading s3://{self.bucket}/{key} failed: {error}") from None
            version = ObjectVersion(key, response["VersionId"], self.bundle.files[path])
            self.created.append(version)
            objects[path] = version
            self.progress(f"uploaded s3://{self.bucket}/{key} (version {version.version_id})")
        return objects

    def delete_unlisted_dags(self, keep: Iterable[str]) -> None:
        """Delete live dags/ objects whose keys are not in ``keep`` (each gets a delete marker,
        which undo removes again)."""
        for key in sorted(live_dags(self.s3, self.bucket, self.prefix).keys() - set(keep)):
            try:
                response = self.s3.delete_object(Bucket=self.bucket, Key=key)
            except AWS_ERRORS as error:
                raise DeployError(f"deleting s3://{self.bucket}/{key} failed: {error}") from None
            self.created.append(ObjectVersion(key, response["VersionId"], ""))
            self.progress(f"deleted s3://{self.bucket}/{key} (not in the bundle)")

    def undo(self) -> None:
        """Delete the versions (and delete markers) this uploader created, newest first."""
        for version in reversed(self.created):
            self.s3.delete_object(Bucket=self.bucket, Key=version.key,
                                  VersionId=version.version_id)
            self.progress(f"removed s3://{self.bucket}/{version.key} version {version.version_id}")
        self.created.clear()


def require_versions_exist(s3: Any, bucket: str, release: Release) -> None:
    for version in release.objects.values():
        try:
            s3.head_object(Bucket=bucket, Key=version.key, VersionId=version.version_id)
        except ClientError as error:
            raise DeployError(
                f"release {release.name}: s3://{bucket}/{version.key} version "
                f"{version.version_id} is gone ({error.response['Error']['Code']}); "
                "pick another release with --to"
            ) from error


def restore_dags(s3: Any, bucket: str, prefix: str, release: Release, progress: Progress) -> None:
    """Make dags/ hold exactly the release's DAG versions: copy back each recorded version that is
    not the live one, delete DAG files the release did not have. Safe to repeat."""
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
