"""Synthesize one environment's stack and write its CloudFormation template.

    python -m aws.app --environment test --out OUT_DIR    # writes OUT_DIR/template.json

Pure Python synthesis (aws-cdk-lib runs its jsii kernel on Node.js; no `cdk` CLI). The stack
has no assets, so it needs no `cdk bootstrap`: the template is deployed as it is, through a
CloudFormation change set (aws.changeset). AwsSolutions checks run on every synthesis and any
unsuppressed finding fails it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from aws_cdk import App, BootstraplessSynthesizer

from aws import checks
from aws.settings import SettingsError, environment_names, load_mwaa, stack_name
from aws.stack import DataPlatformStack

TEMPLATE = "template.json"


def build_stack(environment: str, outdir: str) -> tuple[App, DataPlatformStack]:
    """The app and its one stack, with the AwsSolutions checks applied (not yet synthesized)."""
    app = App(
        outdir=outdir,
        analytics_reporting=False,
        context={
            "aws:cdk:enable-path-metadata": False,
            "aws:cdk:disable-version-reporting": True,
            # Log delivery is granted by bucket policy, not by an ACL (ACLs stay disabled).
            "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
        },
    )
    stack = DataPlatformStack(
        app, stack_name(environment), settings=load_mwaa(environment),
        synthesizer=BootstraplessSynthesizer(),
        description=f"dataplatform {environment}: MWAA environment, bucket, network, alarms",
    )  # fmt: skip
    checks.apply(app)
    return app, stack


def synthesize(environment: str) -> dict[str, Any]:
    """The stack's template; synthesis fails on any unacknowledged AwsSolutions finding."""
    with tempfile.TemporaryDirectory(prefix="cdk-out-") as outdir:
        app, stack = build_stack(environment, outdir)
        assembly = app.synth()
        artifact = assembly.get_stack_artifact(stack.artifact_id)
        return artifact.template


def write_template(template: dict[str, Any], out: Path) -> Path:
    """Write OUT/template.json atomically: the directory appears complete or not at all."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        (staging / TEMPLATE).write_text(json.dumps(template, indent=1, sort_keys=True) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out / TEMPLATE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--environment", required=True, help=f"one of {', '.join(environment_names())}"
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="directory to write template.json to"
    )
    args = parser.parse_args(argv)
    try:
        template = synthesize(args.environment)
    except SettingsError as error:
        print(f"aws.app: {error}", file=sys.stderr)
        return 1
    path = write_template(template, args.out)
    print(f"aws.app: wrote {path} ({len(template['Resources'])} resources)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
