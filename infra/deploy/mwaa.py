"""Deploy an MWAA bundle to its versioned S3 bucket and point the MWAA environment at it.

    python -m deploy.mwaa upload --environment test --bundle dist/mwaa/test --bucket B \
        [--prefix P] [--mwaa-environment NAME] [--wait-timeout SECONDS]
    python -m deploy.mwaa rollback --environment test --bucket B [--prefix P] [--to RELEASE]
    python -m deploy.mwaa list --environment test --bucket B [--prefix P]

Upload order, so that what runs is always one release: check the bundle against MANIFEST.json,
the bucket and the environment, then the gates (secret scan, mwaa.validate); upload
requirements.txt, plugins.zip and startup.sh; UpdateEnvironment and wait for AVAILABLE; only
then upload dags/; record the release as current. Unchanged requirements/plugins/startup skip
the environment update (a DAG-only change). Any failure removes what this upload put and leaves
the previous release live.
Credentials come from the AWS default chain; --endpoint-url or AWS_ENDPOINT_URL point both
clients elsewhere (a local S3 for tests).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.exceptions import NoCredentialsError, NoRegionError

from deploy.bundle import SINGLE_OBJECTS, Bundle, load_bundle
from deploy.errors import DeployError
from deploy.gates import check_bundle
from deploy.mwaa_environment import (
    Wait,
    WaitTimedOut,
    check_environment,
    points_at,
    update_and_wait,
)
from deploy.releases import ObjectVersion, Release, ReleaseStore
from deploy.s3_bundle import (
    Progress,
    Uploader,
    require_versioning,
    require_versions_exist,
    restore_dags,
)

EXIT_REFUSED = 2
# What to do about the AWS configuration errors botocore reports without a hint.
AWS_HINTS = {
    NoCredentialsError: "credentials come from the AWS default chain: AWS_PROFILE, "
    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO or an instance role",
    NoRegionError: "pass --region or set AWS_DEFAULT_REGION",
}
MwaaClient = Callable[[], Any]
DEFAULT_WAIT = Wait()
BundleCheck = Callable[[Path, Progress], None]


def upload(s3: Any, mwaa: MwaaClient, bundle_dir: Path, environment: str, bucket: str,
           prefix: str, mwaa_environment: str | None, progress: Progress = print,
           wait: Wait = DEFAULT_WAIT, check: BundleCheck = check_bundle) -> Release:
    """Ship the bundle in the safe order (module docstring) and record it as the live release."""
    bundle = load_bundle(bundle_dir, environment)
    progress(f"verified {bundle_dir}: {len(bundle.files)} files match MANIFEST.json "
             f"(sha256 {bundle.manifest_sha256[:12]})")
    require_versioning(s3, bucket)
    store = ReleaseStore(s3, bucket, prefix)
    current = read_current(store)
    if current is not None:
        require_environment(current, environment, bucket, prefix)
    progress(f"s3://{bucket} is versioned; live release: {current.name if current else 'none'}")
    if mwaa_environment:
        check_environment(mwaa(), mwaa_environment, bucket)
        progress(f"MWAA environment {mwaa_environment} reads s3://{bucket}")
    check(bundle_dir, progress)

    store.begin_upload(bundle.manifest_sha256)
    uploader = Uploader(s3, bucket, prefix, bundle, progress)
    environment_updated = False
    try:
        singles = unchanged_objects(bundle, current, mwaa_environment)
        if singles is None:
            singles = uploader.put(SINGLE_OBJECTS)
            if mwaa_environment:
                environment_updated = True
                update_and_wait(mwaa(), mwaa_environment, prefix, singles, wait, progress)
        else:
            progress("requirements.txt, plugins.zip and startup.sh unchanged: "
                     "DAG-only change, no environment update")
        dags = uploader.put(bundle.dags)
        uploader.delete_unlisted_dags(v.key for v in dags.values())
        release = Release.new(environment, bundle.manifest_sha256, {**singles, **dags},
                              mwaa_environment, current.name if current else None)
        store.write(release)
        store.set_current(release.name)
    except WaitTimedOut as error:
        # MWAA is still installing the new objects: removing them now would break that update.
        raise DeployError(
            f"{error}; dags/ and the live release ({current.name if current else 'none'}) are "
            "unchanged. When MWAA is AVAILABLE, upload again, or run `rollback` to point it back "
            "at the live release"
        ) from None
    except (DeployError, BotoCoreError, ClientError) as error:
        # releases/PENDING stays: a plain `rollback` now returns to the live release.
        live = current.name if current else "none"
        try:
            undo_upload(uploader, mwaa, mwaa_environment, prefix, current, environment_updated,
                        wait, progress)
        except (DeployError, BotoCoreError, ClientError) as undo_error:
            raise DeployError(f"{error}; undoing the upload failed too ({undo_error}): run "
                              f"`rollback` to return to the live release {live}") from None
        raise DeployError(f"{error}; this upload's objects were removed, live release is "
                          f"still {live}") from None
    store.clear_pending()
    progress(f"recorded release {release.name} as live")
    return release


def unchanged_objects(bundle: Bundle, current: Release | None,
                      mwaa_environment: str | None) -> dict[str, ObjectVersion] | None:
    """The live release's requirements/plugins/startup objects when the bundle's are the same
    bytes for the same environment (a DAG-only change), else None."""
    if current is None or current.mwaa_environment != mwaa_environment:
        return None
    live = {path: current.objects.get(path) for path in SINGLE_OBJECTS}
    if all(v is not None and v.sha256 == bundle.files[path] for path, v in live.items()):
        return {path: v for path, v in live.items() if v is not None}
    return None


def undo_upload(uploader: Uploader, mwaa: MwaaClient, mwaa_environment: str | None, prefix: str,
                current: Release | None, environment_updated: bool, wait: Wait,
                progress: Progress) -> None:
    """After a failure: point MWAA back at the live release if this upload had moved it, then
    delete every object version and delete marker this upload created (dags/ and the single
    objects then serve the live release's versions again)."""
    if environment_updated and mwaa_environment and current is not None:
        if not points_at(mwaa(), mwaa_environment, current.objects):
            progress(f"pointing MWAA environment {mwaa_environment} back at release "
                     f"{current.name}")
            update_and_wait(mwaa(), mwaa_environment, prefix, current.objects, wait, progress)
    uploader.undo()


def rollback(s3: Any, mwaa: MwaaClient, environment: str, bucket: str, prefix: str,
             to: str | None, mwaa_environment: str | None, progress: Progress = print,
             wait: Wait = DEFAULT_WAIT) -> Release:
    """Make release ``to`` live. Default: the live release itself when an upload did not finish
    (so dags/ and MWAA are back to it), else the release the live one replaced."""
    require_versioning(s3, bucket)
    store = ReleaseStore(s3, bucket, prefix)
    current = store.current()
    pending = store.pending()
    if to is None:
        if current is None:
            raise DeployError(f"s3://{bucket}/{store.folder} has no live release to roll back")
        if pending is not None:
            to = current
            progress(f"an upload did not finish: returning to the live release {current}")
        else:
            to = store.read(current).replaces
            if to is None:
                raise DeployError(f"release {current} replaced nothing: name a release with --to "
                                  "(see `python -m deploy.mwaa list`)")
    release = store.read(to)
    require_environment(release, environment, bucket, prefix)
    require_versions_exist(s3, bucket, release)
    name = mwaa_environment or release.mwaa_environment
    if name:
        check_environment(mwaa(), name, bucket)
    progress(f"rolling back from {current or 'none'} to {release.name}")
    if name and not points_at(mwaa(), name, release.objects):
        update_and_wait(mwaa(), name, prefix, release.objects, wait, progress)
    restore_dags(s3, bucket, prefix, release, progress)
    store.set_current(release.name)
    if pending is not None:
        store.clear_pending()
    progress(f"live release is now {release.name}")
    if not name:
        progress("no MWAA environment recorded or given: only dags/ changed")
    return release


def read_current(store: ReleaseStore) -> Release | None:
    name = store.current()
    return store.read(name) if name else None


def list_releases(s3: Any, environment: str, bucket: str, prefix: str,
                  progress: Progress = print) -> None:
    store = ReleaseStore(s3, bucket, prefix)
    current = store.current()
    for name in store.names():
        release = store.read(name)
        if release.environment == environment:
            marker = "*" if name == current else " "
            progress(f"{marker} {name}  mwaa={release.mwaa_environment or '-'}  "
                     f"replaces={release.replaces or '-'}  dags={len(release.dags)}")


def require_environment(release: Release, environment: str, bucket: str, prefix: str) -> None:
    if release.environment != environment:
        raise DeployError(
            f"s3://{bucket}/{prefix} holds releases of environment {release.environment!r} "
            f"(release {release.name}), not {environment!r}: use that environment's bucket/prefix"
        )


def aws_client(service: str, endpoint_url: str | None, region: str | None) -> Any:
    # Host prefixes (MWAA's "api.") would be prepended to a local endpoint's host name.
    config = Config(inject_host_prefix=False) if endpoint_url else None
    return boto3.client(service, endpoint_url=endpoint_url, region_name=region, config=config)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--environment", required=True, help="dataplatform environment, e.g. test")
    common.add_argument("--bucket", required=True, help="the MWAA source bucket (versioned)")
    common.add_argument("--prefix", default="", help="key prefix in the bucket (default: none)")
    common.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"),
                        help="AWS endpoint (default: $AWS_ENDPOINT_URL or AWS itself)")
    common.add_argument("--region", help="AWS region (default: the AWS configuration's)")
    parser = argparse.ArgumentParser(prog="python -m deploy.mwaa",
                                     description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("upload", parents=[common], help="deploy a bundle")
    up.add_argument("--bundle", required=True, type=Path, help="e.g. dist/mwaa/test")
    up.add_argument("--mwaa-environment", help="MWAA environment to update (default: S3 only)")
    back = commands.add_parser("rollback", parents=[common], help="make an older release live")
    for command in (up, back):
        command.add_argument("--wait-timeout", type=float, default=Wait.timeout_seconds,
                             help="seconds to wait for MWAA to be AVAILABLE (default: %(default)s)")
        command.add_argument("--poll-seconds", type=float, default=Wait.poll_seconds,
                             help="seconds between status checks (default: %(default)s)")
    back.add_argument("--to", help="release name (default: the live release after an unfinished "
                      "upload, else the one the live release replaced)")
    back.add_argument("--mwaa-environment",
                      help="MWAA environment to update (default: the release's)")
    commands.add_parser("list", parents=[common], help="show releases, * marks the live one")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    s3 = aws_client("s3", args.endpoint_url, args.region)
    mwaa = cache(lambda: aws_client("mwaa", args.endpoint_url, args.region))
    progress = lambda line: print(line, flush=True)  # noqa: E731
    if args.command == "upload":
        upload(s3, mwaa, args.bundle, args.environment, args.bucket, args.prefix,
               args.mwaa_environment, progress, Wait(args.wait_timeout, args.poll_seconds))
    elif args.command == "rollback":
        rollback(s3, mwaa, args.environment, args.bucket, args.prefix, args.to,
                 args.mwaa_environment, progress, Wait(args.wait_timeout, args.poll_seconds))
    else:
        list_releases(s3, args.environment, args.bucket, args.prefix, progress)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DeployError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_REFUSED)
    except (BotoCoreError, ClientError) as error:
        hint = AWS_HINTS.get(type(error))
        print(f"error: {error}" + (f": {hint}" if hint else ""), file=sys.stderr)
        sys.exit(1)
