"""Release records: which S3 object versions one deploy made live, kept beside the bundle.

Layout under the bucket prefix: `releases/<UTC time>-<MANIFEST sha256[:12]>.json`, one per
upload, `releases/CURRENT` naming the live one, and `releases/PENDING` while an upload runs (it
stays when an upload did not finish, so the next rollback first returns to the live release). A
record names the release it replaced, so a rollback walks back through what was really live.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from deploy.errors import DeployError

RECORD_SUFFIX = ".json"


def object_key(prefix: str, path: str) -> str:
    """The S3 key of a bundle path under ``prefix`` ("" or "team/test" -> "team/test/dags/x")."""
    return "/".join(part for part in (prefix.strip("/"), path) if part)


@dataclass(frozen=True)
class ObjectVersion:
    key: str
    version_id: str
    sha256: str


@dataclass(frozen=True)
class Release:
    name: str
    environment: str
    created: str
    manifest_sha256: str
    # Bundle path ("requirements.txt", "dags/a/b.py"...) -> the S3 object version it became.
    objects: dict[str, ObjectVersion]
    mwaa_environment: str | None
    replaces: str | None

    @classmethod
    def new(cls, environment: str, manifest_sha256: str, objects: dict[str, ObjectVersion],
            mwaa_environment: str | None, replaces: str | None) -> Release:
        now = datetime.now(UTC)
        name = f"{now:%Y%m%dT%H%M%S.%fZ}-{manifest_sha256[:12]}"
        return cls(name, environment, now.isoformat(), manifest_sha256, objects,
                   mwaa_environment, replaces)

    @property
    def dags(self) -> dict[str, ObjectVersion]:
        return {path: v for path, v in self.objects.items() if path.startswith("dags/")}

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Release:
        data: dict[str, Any] = json.loads(text)
        objects = {path: ObjectVersion(**v) for path, v in data.pop("objects").items()}
        return cls(objects=objects, **data)


class ReleaseStore:
    """Release records and the CURRENT pointer of one bucket prefix."""

    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self.s3, self.bucket = s3, bucket
        self.folder = object_key(prefix, "releases/")
        self.current_key = object_key(prefix, "releases/CURRENT")
        self.pending_key = object_key(prefix, "releases/PENDING")

    def names(self) -> list[str]:
        names = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.folder
        ):
            for item in page.get("Contents", []):
                name = item["Key"].removeprefix(self.folder)
                if name.endswith(RECORD_SUFFIX) and "/" not in name:
                    names.append(name.removesuffix(RECORD_SUFFIX))
        return sorted(names)

    def read(self, name: str) -> Release:
        name = name.removesuffix(RECORD_SUFFIX)
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self._key(name))["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            known = ", ".join(self.names()) or "none"
            raise DeployError(
                f"no release {name!r} in s3://{self.bucket}/{self.folder} (releases: {known})"
            ) from None
        try:
            return Release.from_json(body.decode())
        except (ValueError, TypeError, KeyError) as error:
            raise DeployError(f"release record s3://{self.bucket}/{self._key(name)} is not "
                              f"readable ({type(error).__name__}: {error})") from None

    def write(self, release: Release) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self._key(release.name),
                           Body=release.to_json().encode(), ContentType="application/json")

    def current(self) -> str | None:
        return self._read_text(self.current_key)

    def pending(self) -> str | None:
        """What an unfinished upload was shipping (its MANIFEST sha256), or None."""
        return self._read_text(self.pending_key)

    def begin_upload(self, manifest_sha256: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self.pending_key,
                           Body=f"{manifest_sha256}\n".encode(), ContentType="text/plain")

    def clear_pending(self) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=self.pending_key)

    def _read_text(self, key: str) -> str | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        return body.decode().strip()

    def set_current(self, name: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self.current_key, Body=f"{name}\n".encode(),
                           ContentType="text/plain")

    def _key(self, name: str) -> str:
        return f"{self.folder}{name}{RECORD_SUFFIX}"
