"""Each failure point of an upload leaves the live release as it was; rollback picks the right
release. S3 is moto's server (failures injected into one client), MWAA is botocore's Stubber.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import PREFIX, SINGLE, BuildBundle, FakeClock, GateRecorder, Mwaa, MWAA_NAME
from deploy.errors import DeployError
from deploy.mwaa import rollback, upload
from deploy.mwaa_environment import Wait

DAGS = {"a_dag.py": "# a v1\n", "b_dag.py": "# b v1\n", "c_dag.py": "# c v1\n"}
NEW_DAGS = {"a_dag.py": "# a v2\n", "b_dag.py": "# b v2\n", "d_dag.py": "# d new\n"}

def fail_put(s3: Any, key_suffix: str) -> None:
    """Make PutObject of the key ending in ``key_suffix`` fail, as an S3 outage would."""

    def hook(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].endswith(key_suffix):
            raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}},
                              "PutObject")

    s3.meta.events.register("before-parameter-build.s3.PutObject", hook)


def live_state(s3: Any, bucket: str) -> dict[str, Any]:
    """What MWAA and a reader of the bucket see: the latest version of every key (delete markers
    included), and the release records. releases/PENDING is bookkeeping, left out."""
    listing = s3.list_object_versions(Bucket=bucket)
    latest = {
        v["Key"]: v["VersionId"]
        for v in listing.get("Versions", []) + listing.get("DeleteMarkers", [])
        if v["IsLatest"] and not v["Key"].endswith("releases/PENDING")
    }
    return latest


def body(s3: Any, bucket: str, key: str) -> str:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def current(s3: Any, bucket: str) -> str:
    return body(s3, bucket, f"{PREFIX}/releases/CURRENT").strip()


def release_objects(s3: Any, bucket: str, name: str) -> dict[str, Any]:
    return json.loads(body(s3, bucket, f"{PREFIX}/releases/{name}.json"))["objects"]


def deploy(s3: Any, mwaa: Mwaa, bundle: Path, gates: GateRecorder, wait: Wait) -> str:
    return upload(s3, lambda: mwaa.client, bundle, "test", mwaa.bucket, PREFIX, MWAA_NAME,
                  lambda _: None, wait, gates).name


@pytest.fixture
def live(s3: Any, mwaa: Mwaa, build_bundle: BuildBundle, gates: GateRecorder,
         tmp_path: Path) -> str:
    """Release 1 live: three DAGs, plugins v1 (MWAA updated and AVAILABLE)."""
    mwaa.successful_update()
    bundle = build_bundle(tmp_path / "live", DAGS, plugin="VERSION = 1\n")
    return deploy(s3, mwaa, bundle, gates, FakeClock().wait())


def test_upload_updates_mwaa_and_waits_before_touching_dags(
    fresh_s3: Any, mwaa: Mwaa, live: str, build_bundle: BuildBundle, gates: GateRecorder,
    tmp_path: Path,
) -> None:
    order: list[str] = []
    mwaa.client.meta.events.register("before-parameter-build.mwaa.*",
                                      lambda model, **_: order.append(model.name))
    fresh_s3.meta.events.register("before-parameter-build.s3.PutObject",
                                  lambda params, **_: order.append(params["Key"]))
    mwaa.successful_update()
    bundle = build_bundle(tmp_path / "next", NEW_DAGS, plugin="VERSION = 2\n")
    name = deploy(fresh_s3, mwaa, bundle, gates, FakeClock().wait())
    s3 = fresh_s3

    assert gates.checked[-1] == bundle
    update = order.index("UpdateEnvironment")
    available = order.index("GetEnvironment", update + 2)  # UPDATING, then AVAILABLE
    assert {k.rpartition("/")[2] for k in order[:update] if "/" in k} >= set(SINGLE.values())
    dag_puts = [i for i, k in enumerate(order) if "/dags/" in k]
    assert dag_puts and min(dag_puts) > available
    objects = release_objects(s3, mwaa.bucket, name)
    assert mwaa.updates[-1]["PluginsS3ObjectVersion"] == objects["plugins.zip"]["version_id"]
    assert current(s3, mwaa.bucket) == name


def test_dag_only_change_uploads_dags_without_environment_update(
    s3: Any, mwaa: Mwaa, live: str, build_bundle: BuildBundle, gates: GateRecorder,
    tmp_path: Path,
) -> None:
    before = live_state(s3, mwaa.bucket)
    mwaa.environment()  # the pre-upload check only: an UpdateEnvironment would fail the Stubber
    bundle = build_bundle(tmp_path / "dags-only", NEW_DAGS, plugin="VERSION = 1\n")
    name = deploy(s3, mwaa, bundle, gates, FakeClock().wait())

    after = live_state(s3, mwaa.bucket)
    for path in SINGLE.values():  # not uploaded again: same live versions, reused by the release
        key = f"{PREFIX}/{path}"
        assert after[key] == before[key]
        assert release_objects(s3, mwaa.bucket, name)[path]["version_id"] == before[key]
    assert len(mwaa.updates) == 1  # the live fixture's only
    assert body(s3, mwaa.bucket, f"{PREFIX}/dags/a_dag.py") == "# a v2\n"
    assert current(s3, mwaa.bucket) == name


def test_upload_failing_on_second_dag_restores_live_dags_and_environment(
    fresh_s3: Any, mwaa: Mwaa, live: str, build_bundle: BuildBundle, gates: GateRecorder,
    tmp_path: Path,
) -> None:
    bucket = mwaa.bucket
    before = live_state(fresh_s3, bucket)
    live_objects = release_objects(fresh_s3, bucket, live)
    mwaa.successful_update()
    # The upload moved MWAA to the new objects: the deploy asks where it points, then puts the
    # live release's versions back and waits again.
    mwaa.environment(objects=None)
    mwaa.update_accepted()
    mwaa.environment("AVAILABLE")
    fail_put(fresh_s3, "/dags/b_dag.py")
    bundle = build_bundle(tmp_path / "next", NEW_DAGS, plugin="VERSION = 2\n")
    with pytest.raises(DeployError, match=rf"dags/b_dag.py failed.*live release is still {live}"):
        deploy(fresh_s3, mwaa, bundle, gates, FakeClock().wait())

    assert live_state(fresh_s3, bucket) == before  # a_dag.py v1 again, no d_dag.py, no record
    assert body(fresh_s3, bucket, f"{PREFIX}/dags/a_dag.py") == "# a v1\n"
    restored = mwaa.updates[-1]
    for field, path in SINGLE.items():
        assert restored[f"{field}S3ObjectVersion"] == live_objects[path]["version_id"]


def test_failed_single_object_upload_never_updates_mwaa(
    fresh_s3: Any, mwaa: Mwaa, live: str, build_bundle: BuildBundle, gates: GateRecorder,
    tmp_path: Path,
) -> None:
    before = live_state(fresh_s3, mwaa.bucket)
    mwaa.environment()
    fail_put(fresh_s3, "/plugins.zip")
    bundle = build_bundle(tmp_path / "next", NEW_DAGS, plugin="VERSION = 2\n")
    with pytest.raises(DeployError, match="plugins.zip failed"):
        deploy(fresh_s3, mwaa, bundle, gates, FakeClock().wait())
    assert live_state(fresh_s3, mwaa.bucket) == before
    assert len(mwaa.updates) == 1


def test_rejected_update_environment_leaves_everything_live(
    s3: Any, mwaa: Mwaa, live: str, build_bundle: BuildBundle, gates: GateRecorder,
    tmp_path: Path,
) -> None:
    before = live_state(s3, mwaa.bucket)
    mwaa.environment()
    mwaa.stubber.add_client_error("update_environment", "ValidationException", "busy")
    live_objects = release_objects(s3, mwaa.bucket, live)
    mwaa.environment(objects=live_objects)  # still on the live release: nothing to put back
    bundle = build_bundle(tmp_path / "next", NEW_DAGS, plugin="VERSION = 2\n")
    with pytest.raises(DeployError, match="UpdateEnvironment on dataplatform-test failed"):
        deploy(s3, mwaa, bundle, gates, FakeClock().wait())
    assert live_state(s3, mwaa.bucket) == before


def test_update_failed_rolls_back_and_exits_nonzero(
    s3: Any, mwaa: Mwaa, live: str, build_bundle: BuildBundle,
    gates: GateRecorder, tmp_path: Path,
) -> None:
    before = live_state(s3, mwaa.bucket)
    live_objects = release_objects(s3, mwaa.bucket, live)
    mwaa.environment()
    mwaa.update_accepted()
    mwaa.environment("UPDATING")
    mwaa.environment("UPDATE_FAILED", objects=live_objects, error="pip install failed")
    mwaa.environment("UPDATE_FAILED", objects=live_objects)  # MWAA is back on the live objects
    progress: list[str] = []
    bundle = build_bundle(tmp_path / "next", NEW_DAGS, plugin="VERSION = 2\n")
    with pytest.raises(DeployError, match="UPDATE_FAILED .Requirements: pip install failed"):
        upload(s3, lambda: mwaa.client, bundle, "test", mwaa.bucket, PREFIX, MWAA_NAME,
               progress.append, FakeClock().wait(), gates)
    assert live_state(s3, mwaa.bucket) == before
    assert "MWAA environment dataplatform-test: UPDATING (0 s)" in progress
    assert len(mwaa.updates) == 2  # the fixture's and the failed one: no extra update needed


def test_wait_timeout_changes_nothing_live_and_rollback_returns_to_live_release(
    s3: Any, mwaa: Mwaa, live: str, build_bundle: BuildBundle, gates: GateRecorder,
    tmp_path: Path,
) -> None:
    bucket = mwaa.bucket
    dags_before = {k: v for k, v in live_state(s3, bucket).items() if "/dags/" in k}
    mwaa.environment()
    mwaa.update_accepted()
    for _ in range(3):  # 0 s, 30 s, 60 s: the timeout is 60 s
        mwaa.environment("UPDATING")
    bundle = build_bundle(tmp_path / "next", NEW_DAGS, plugin="VERSION = 2\n")
    with pytest.raises(DeployError, match="still UPDATING after 60 s.*live release .* unchanged"):
        deploy(s3, mwaa, bundle, gates, FakeClock().wait(timeout=60))
    assert {k: v for k, v in live_state(s3, bucket).items() if "/dags/" in k} == dags_before
    assert current(s3, bucket) == live

    # Later, MWAA is AVAILABLE on the new objects; a plain rollback returns to the live release.
    live_objects = release_objects(s3, bucket, live)
    mwaa.environment()  # the check
    mwaa.environment()  # where it points: not at the live release
    mwaa.update_accepted()
    mwaa.environment("AVAILABLE")
    back = rollback(s3, lambda: mwaa.client, "test", bucket, PREFIX, None, None, lambda _: None,
                    FakeClock().wait())
    assert back.name == live
    for field, path in SINGLE.items():
        assert mwaa.updates[-1][f"{field}S3ObjectVersion"] == live_objects[path]["version_id"]


def test_rollback_after_failed_upload_returns_to_last_live_release_then_further(
    fresh_s3: Any, mwaa: Mwaa, live: str, build_bundle: BuildBundle, gates: GateRecorder,
    tmp_path: Path,
) -> None:
    bucket = mwaa.bucket
    mwaa.environment()  # a DAG-only release 2 on top of release 1
    two = build_bundle(tmp_path / "two", NEW_DAGS, plugin="VERSION = 1\n")
    second = deploy(fresh_s3, mwaa, two, gates, FakeClock().wait())
    mwaa.environment()  # release 3 fails on its second DAG
    fail_put(fresh_s3, "/dags/b_dag.py")
    third = build_bundle(tmp_path / "three", {"a_dag.py": "# 3\n", "b_dag.py": "# 3\n"},
                         plugin="VERSION = 1\n")
    with pytest.raises(DeployError):
        deploy(fresh_s3, mwaa, third, gates, FakeClock().wait())

    for expected, dag_text in ((second, "# a v2\n"), (live, "# a v1\n")):
        mwaa.environment()  # check
        mwaa.environment(objects=release_objects(fresh_s3, bucket, live))  # points at release 1
        back = rollback(fresh_s3, lambda: mwaa.client, "test", bucket, PREFIX, None, None,
                        lambda _: None, FakeClock().wait())
        assert back.name == expected
        assert current(fresh_s3, bucket) == expected
        assert body(fresh_s3, bucket, f"{PREFIX}/dags/a_dag.py") == dag_text


def test_file_changing_during_upload_is_refused_and_undone(
    s3: Any, mwaa: Mwaa, live: str, build_bundle: BuildBundle, gates: GateRecorder,
    tmp_path: Path,
) -> None:
    before = live_state(s3, mwaa.bucket)
    bundle = build_bundle(tmp_path / "next", NEW_DAGS, plugin="VERSION = 1\n")

    def edit_after_first_dag(line: str) -> None:
        if line.startswith("uploaded") and "/dags/a_dag.py " in line:
            (bundle / "dags" / "b_dag.py").write_text("# edited meanwhile\n")

    mwaa.environment()
    with pytest.raises(DeployError, match=r"dags/b_dag.py changed during the upload") as refused:
        upload(s3, lambda: mwaa.client, bundle, "test", mwaa.bucket, PREFIX, MWAA_NAME,
               edit_after_first_dag, FakeClock().wait(), gates)
    assert "\n" not in str(refused.value)
    assert live_state(s3, mwaa.bucket) == before
