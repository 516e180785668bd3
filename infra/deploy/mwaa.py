"""Deploy an MWAA bundle to its versioned S3 bucket and point the MWAA environment at it.

    python -m deploy.mwaa upload --environment test --bundle dist/mwaa/test --bucket B \
        [--prefix P] [--mwaa-environment NAME]
    python -m deploy.mwaa rollback --environment test --bucket B [--prefix P] [--to RELEASE]
    python -m deploy.mwaa list --environment test --bucket B [--prefix P]

Order, so a failure leaves nothing half-done: verify the bundle against MANIFEST.json and check
the bucket (and environment) before writing anything; upload objects; record the release; update
MWAA last. Credentials come from the AWS default chain; --endpoint-url or AWS_ENDPOINT_URL point
both clients elsewhere (a local S3 for tests).
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

from deploy.bundle import load_bundle
from deploy.errors import DeployError
from deploy.mwaa_environment import check_source_bucket, update_environment
from deploy.releases import Release, ReleaseStore
from deploy.s3_bundle import Progress, require_versioning, restore_dags, upload_bundle

EXIT_REFUSED = 2
# What to do about the AWS configuration errors botocore reports without a hint.
AWS_HINTS = {
    NoCredentialsError: "credentials come from the AWS default chain: AWS_PROFILE, "
    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO or an instance role",
    NoRegionError: "pass --region or set AWS_DEFAULT_REGION",
}
MwaaClient = Callable[[], Any]


def upload(s3: Any, mwaa: MwaaClient, bundle_dir: Path, environment: str, bucket: str,
           prefix: str, mwaa_environment: str | None, progress: Progress = print) -> Release:
    """Ship the bundle, record it as the live release, then point MWAA (if named) at it."""
    bundle = load_bundle(bundle_dir, environment)
    progress(f"verified {bundle_dir}: {len(bundle.files)} files match MANIFEST.json "
             f"(sha256 {bundle.manifest_sha256[:12]})")
    require_versioning(s3, bucket)
    store = ReleaseStore(s3, bucket, prefix)
    current = store.current()
    if current is not None:
        require_environment(store.read(current), environment, bucket, prefix)
    progress(f"s3://{bucket} is versioned; live release: {current or 'none'}")
    if mwaa_environment:
        check_source_bucket(mwaa(), mwaa_environment, bucket)
        progress(f"MWAA environment {mwaa_environment} reads s3://{bucket}")
    objects = upload_bundle(s3, bucket, prefix, bundle, progress)
    release = Release.new(environment, bundle.manifest_sha256, objects, mwaa_environment, current)
    store.write(release)
    store.set_current(release.name)
    progress(f"recorded release {release.name}")
    if mwaa_environment:
        update_environment(mwaa(), mwaa_environment, prefix, release)
        progress(f"MWAA environment {mwaa_environment} updated to release {release.name}")
    return release


def rollback(s3: Any, mwaa: MwaaClient, environment: str, bucket: str, prefix: str,
             to: str | None, mwaa_environment: str | None, progress: Progress = print) -> Release:
    """Make release ``to`` (default: the one the live release replaced) live again."""
    require_versioning(s3, bucket)
    store = ReleaseStore(s3, bucket, prefix)
    current = store.current()
    if to is None:
        if current is None:
            raise DeployError(f"s3://{bucket}/{store.folder} has no live release to roll back")
        to = store.read(current).replaces
        if to is None:
            raise DeployError(f"release {current} replaced nothing: name a release with --to "
                              "(see `python -m deploy.mwaa list`)")
    release = store.read(to)
    require_environment(release, environment, bucket, prefix)
    name = mwaa_environment or release.mwaa_environment
    if name:
        check_source_bucket(mwaa(), name, bucket)
    progress(f"rolling back from {current or 'none'} to {release.name}")
    restore_dags(s3, bucket, prefix, release, progress)
    store.set_current(release.name)
    progress(f"live release is now {release.name}")
    if name:
        update_environment(mwaa(), name, prefix, release)
        progress(f"MWAA environment {name} updated to release {release.name}")
    else:
        progress("no MWAA environment recorded or given: only dags/ changed")
    return release


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
    back.add_argument("--to", help="release name (default: the one the live release replaced)")
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
               args.mwaa_environment, progress)
    elif args.command == "rollback":
        rollback(s3, mwaa, args.environment, args.bucket, args.prefix, args.to,
                 args.mwaa_environment, progress)
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
