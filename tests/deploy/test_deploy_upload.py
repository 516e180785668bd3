"""`python -m deploy.mwaa` against moto's S3 server: versioned upload, DAG sync, rollback, and
what it refuses (the gates included) with a one-line error and nothing uploaded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import BuildBundle, DeployCli, GateRecorder
from deploy.mwaa import upload

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


def s3_only_upload(s3: Any, bundle: Path, bucket: str, prefix: str, gates: GateRecorder,
                   progress: list[str] | None = None) -> None:
    """An upload without an MWAA environment; the gates are tested below through the CLI."""
    sink = progress.append if progress is not None else (lambda _: None)
    upload(s3, lambda: None, bundle, "test", bucket, prefix, None, sink, check=gates)


def test_upload_creates_versioned_objects_and_a_release(
    s3: Any, bucket: str, gates: GateRecorder, build_bundle: BuildBundle, tmp_path: Path
) -> None:
    bundle = build_bundle(tmp_path / "bundle", {"orders/orders.py": DAG_V1})
    progress: list[str] = []
    s3_only_upload(s3, bundle, bucket, "", gates, progress)
    assert any("files match MANIFEST.json" in line for line in progress)
    assert any(line.startswith(f"uploaded s3://{bucket}/dags/orders/orders.py (version ")
               for line in progress)
    assert gates.checked == [bundle]

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
    s3: Any, bucket: str, deploy_cli: DeployCli, gates: GateRecorder, build_bundle: BuildBundle,
    tmp_path: Path,
) -> None:
    first = build_bundle(tmp_path / "first", {"orders.py": DAG_V1, "legacy.py": "# old\n"})
    second = build_bundle(tmp_path / "second", {"orders.py": DAG_V2, "fresh.py": "# new\n"})
    common = ("--environment", "test", "--bucket", bucket, "--prefix", "dp/test")
    s3_only_upload(s3, first, bucket, "dp/test", gates)
    first_name = body(s3, bucket, "dp/test/releases/CURRENT").strip()
    progress: list[str] = []
    s3_only_upload(s3, second, bucket, "dp/test", gates, progress)
    assert f"deleted s3://{bucket}/dp/test/dags/legacy.py (not in the bundle)" in progress
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


def test_broken_manifest_is_one_line_error(
    s3: Any, bucket: str, deploy_cli: DeployCli, build_bundle: BuildBundle, tmp_path: Path
) -> None:
    bundle = build_bundle(tmp_path / "bundle", {"orders.py": DAG_V1})
    (bundle / "MANIFEST.json").write_text('{"environment": "test", "files": [{"path": ')
    result = deploy_cli("upload", "--environment", "test", "--bundle", str(bundle),
                        "--bucket", bucket)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "MANIFEST.json is not a bundle manifest" in result.stderr
    assert all_versions(s3, bucket) == []


def test_bundle_with_a_secret_is_refused_naming_file_and_finding(
    s3: Any, bucket: str, deploy_cli: DeployCli, build_bundle: BuildBundle, tmp_path: Path
) -> None:
    # Assembled at run time so that this file holds no secret-shaped text.
    key_block = "-----BEGIN OPENSSH " + "PRIVATE KEY-----"
    dags = {"orders.py": DAG_V1, "keys.py": f"KEY = {key_block!r}\n"}
    bundle = build_bundle(tmp_path / "bundle", dags)
    result = deploy_cli("upload", "--environment", "test", "--bundle", str(bundle),
                        "--bucket", bucket)
    assert result.returncode == 2
    assert f"secret scan refused --bundle {bundle}: {bundle}/dags/keys.py:1: Private Key" in (
        result.stderr
    )
    assert key_block not in result.stderr
    assert all_versions(s3, bucket) == []


def test_bundle_with_a_dag_import_error_is_refused(
    s3: Any, bucket: str, deploy_cli: DeployCli, build_bundle: BuildBundle, tmp_path: Path
) -> None:
    """The real mwaa.validate: uv resolves Airflow 3.3.1 under MWAA's pinned constraints."""
    dags = {
        "good_dag.py": "from airflow.sdk import DAG\nDAG(dag_id='good', schedule=None)\n",
        "broken_dag.py": "from airflow.sdk import DAG\nimport no_such_module\n",
    }
    bundle = build_bundle(tmp_path / "bundle", dags)
    result = deploy_cli("upload", "--environment", "test", "--bundle", str(bundle),
                        "--bucket", bucket)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "mwaa.validate refused" in result.stderr
    assert "broken_dag.py" in result.stderr and "no_such_module" in result.stderr
    assert all_versions(s3, bucket) == []
