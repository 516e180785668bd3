"""`python -m deploy.mwaa` against moto's S3 server: versioned upload, DAG sync, rollback and
what it refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import BuildBundle, DeployCli

DAG_V1 = "# orders DAG, first version\n"
DAG_V2 = "# orders DAG, second version\n"


def body(s3: Any, bucket: str, key: str, version: str | None = None) -> str:
    extra = {"VersionId": version} if version else {}
    return s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read().decode()


def live_keys(s3: Any, bucket: str) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def all_versions(s3: Any, bucket: str) -> list[dict[str, Any]]:
    return s3.list_object_versions(Bucket=bucket).get("Versions", [])


def release_record(s3: Any, bucket: str, name: str) -> dict[str, Any]:
    return json.loads(body(s3, bucket, f"releases/{name}.json"))


def test_upload_creates_versioned_objects_and_a_release(
    s3: Any, bucket: str, deploy_cli: DeployCli, build_bundle: BuildBundle, tmp_path: Path
) -> None:
    bundle = build_bundle(tmp_path / "bundle", {"orders/orders.py": DAG_V1})
    result = deploy_cli("upload", "--environment", "test", "--bundle", str(bundle),
                        "--bucket", bucket)
    assert result.returncode == 0, result.stderr
    assert "files match MANIFEST.json" in result.stdout
    assert f"uploaded s3://{bucket}/dags/orders/orders.py (version " in result.stdout

    name = body(s3, bucket, "releases/CURRENT").strip()
    record = release_record(s3, bucket, name)
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    assert set(record["objects"]) == {f["path"] for f in manifest["files"]}
    for path, version in record["objects"].items():
        head = s3.head_object(Bucket=bucket, Key=path)
        assert head["VersionId"] == version["version_id"]
        assert body(s3, bucket, path).encode() == (bundle / path).read_bytes()
    assert record["environment"] == "test" and record["replaces"] is None


def test_second_upload_then_rollback_restores_first_release(
    s3: Any, bucket: str, deploy_cli: DeployCli, build_bundle: BuildBundle, tmp_path: Path
) -> None:
    first = build_bundle(tmp_path / "first", {"orders.py": DAG_V1, "legacy.py": "# old\n"})
    second = build_bundle(tmp_path / "second", {"orders.py": DAG_V2, "fresh.py": "# new\n"})
    common = ("--environment", "test", "--bucket", bucket, "--prefix", "dp/test")
    assert deploy_cli("upload", *common, "--bundle", str(first)).returncode == 0
    first_name = body(s3, bucket, "dp/test/releases/CURRENT").strip()
    upload = deploy_cli("upload", *common, "--bundle", str(second))
    assert upload.returncode == 0, upload.stderr
    assert f"deleted s3://{bucket}/dp/test/dags/legacy.py (not in the bundle)" in upload.stdout
    assert body(s3, bucket, "dp/test/dags/orders.py") == DAG_V2
    assert "dp/test/dags/legacy.py" not in live_keys(s3, bucket)

    back = deploy_cli("rollback", *common)
    assert back.returncode == 0, back.stderr
    assert f"live release is now {first_name}" in back.stdout
    assert body(s3, bucket, "dp/test/releases/CURRENT").strip() == first_name
    dags = {k for k in live_keys(s3, bucket) if k.startswith("dp/test/dags/")}
    assert dags == {"dp/test/dags/orders.py", "dp/test/dags/legacy.py"}
    assert body(s3, bucket, "dp/test/dags/orders.py") == DAG_V1
    assert body(s3, bucket, "dp/test/dags/legacy.py") == "# old\n"
    # The first release's recorded versions still hold its bytes (what MWAA is pointed at).
    record = json.loads(body(s3, bucket, f"dp/test/releases/{first_name}.json"))
    for path, version in record["objects"].items():
        assert body(s3, bucket, version["key"], version["version_id"]).encode() == (
            first / path
        ).read_bytes()

    listing = deploy_cli("list", *common)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"* {first_name}")
    assert f"replaces={first_name}" in lines[1]


def test_unversioned_bucket_is_refused(
    s3: Any, deploy_cli: DeployCli, build_bundle: BuildBundle, tmp_path: Path
) -> None:
    s3.create_bucket(Bucket="mwaa-unversioned")
    bundle = build_bundle(tmp_path / "bundle", {"orders.py": DAG_V1})
    result = deploy_cli("upload", "--environment", "test", "--bundle", str(bundle),
                        "--bucket", "mwaa-unversioned")
    assert result.returncode == 2
    assert "--bucket mwaa-unversioned: versioning is never enabled" in result.stderr
    assert "put-bucket-versioning" in result.stderr
    assert all_versions(s3, "mwaa-unversioned") == []


def test_tampered_bundle_is_refused_before_any_upload(
    s3: Any, bucket: str, deploy_cli: DeployCli, build_bundle: BuildBundle, tmp_path: Path
) -> None:
    bundle = build_bundle(tmp_path / "bundle", {"orders.py": DAG_V1})
    (bundle / "dags" / "orders.py").write_text(DAG_V2)
    result = deploy_cli("upload", "--environment", "test", "--bundle", str(bundle),
                        "--bucket", bucket)
    assert result.returncode == 2
    assert "differs from its MANIFEST.json in dags/orders.py" in result.stderr
    assert all_versions(s3, bucket) == []


def test_bundle_of_another_environment_is_refused(
    s3: Any, bucket: str, deploy_cli: DeployCli, build_bundle: BuildBundle, tmp_path: Path
) -> None:
    bundle = build_bundle(tmp_path / "bundle", {"orders.py": DAG_V1})
    result = deploy_cli("upload", "--environment", "prod", "--bundle", str(bundle),
                        "--bucket", bucket)
    assert result.returncode == 2
    assert "was built for environment 'test', not 'prod'" in result.stderr
    assert all_versions(s3, bucket) == []
