"""Deploy a synthesized template through a CloudFormation change set: plan, then apply.

    python -m aws.changeset plan --environment test --template dist/aws/test/template.json \
        [--plugins-version V --requirements-version V --startup-version V]
    python -m aws.changeset apply --environment test --change-set NAME

`plan` creates a change set (CREATE for a new stack, UPDATE otherwise) and prints every change;
nothing changes until `apply` executes that change set and waits for the stack to settle.
A plan without changes is deleted and says so. Credentials come from the AWS default chain.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from aws.settings import stack_name

Progress = Callable[[str], None]
# Stack parameters for the bundle's object versions (see aws.stack.BUNDLE_FILES).
VERSION_PARAMETERS = {
    "plugins_version": "PluginsS3ObjectVersion",
    "requirements_version": "RequirementsS3ObjectVersion",
    "startup_version": "StartupScriptS3ObjectVersion",
}
CAPABILITIES = ["CAPABILITY_IAM"]  # the stack creates roles and policies (without names)
TEMPLATE_BODY_LIMIT = 51_200  # bytes CloudFormation accepts inline


class DeployError(RuntimeError):
    """A change set could not be created or executed; the message says what to do."""


def stack_exists(cloudformation: Any, name: str) -> bool:
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if "does not exist" in error.response["Error"].get("Message", ""):
            return False
        raise
    return stacks[0]["StackStatus"] != "REVIEW_IN_PROGRESS"


def plan(
    cloudformation: Any,
    environment: str,
    template: dict[str, Any],
    versions: dict[str, str],
    progress: Progress = print,
    poll_seconds: int = 5,
) -> str | None:
    """Create a change set and print its changes; return its name (None: nothing to change)."""
    name = stack_name(environment)
    body = json.dumps(template, separators=(",", ":"), sort_keys=True)
    if len(body.encode()) > TEMPLATE_BODY_LIMIT:
        raise DeployError(
            f"template of {name} is {len(body.encode())} bytes, over CloudFormation's "
            f"inline limit of {TEMPLATE_BODY_LIMIT}: upload it to S3 first"
        )
    declared = template.get("Parameters", {})
    parameters = [
        {"ParameterKey": key, "ParameterValue": versions.get(key, "")}
        for key in sorted(declared) if key in VERSION_PARAMETERS.values()
    ]  # fmt: skip
    change_type = "UPDATE" if stack_exists(cloudformation, name) else "CREATE"
    change_set = f"{name}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    cloudformation.create_change_set(
        StackName=name, ChangeSetName=change_set, ChangeSetType=change_type,
        TemplateBody=body, Parameters=parameters, Capabilities=CAPABILITIES,
        Description=f"dataplatform {environment}",
    )  # fmt: skip
    progress(f"plan: {change_type} change set {change_set} for stack {name}; waiting for it")
    try:
        cloudformation.get_waiter("change_set_create_complete").wait(
            StackName=name,
            ChangeSetName=change_set,
            WaiterConfig={"Delay": poll_seconds, "MaxAttempts": 120},
        )
    except WaiterError:
        described = cloudformation.describe_change_set(StackName=name, ChangeSetName=change_set)
        reason = described.get("StatusReason", "")
        if "didn't contain changes" in reason or "No updates are to be performed" in reason:
            cloudformation.delete_change_set(StackName=name, ChangeSetName=change_set)
            progress(f"plan: stack {name} is up to date; nothing to apply")
            return None
        raise DeployError(
            f"change set {change_set} failed: {reason or described['Status']}"
        ) from None
    for change in changes(cloudformation, name, change_set):
        progress(change)
    progress(f"plan: apply it with `apply --environment {environment} --change-set {change_set}`")
    return change_set


def changes(cloudformation: Any, stack: str, change_set: str) -> list[str]:
    """One line per resource change: action, logical id, type, replacement."""
    lines, token = [], None
    while True:
        page = cloudformation.describe_change_set(
            StackName=stack, ChangeSetName=change_set, **({"NextToken": token} if token else {})
        )
        for change in page["Changes"]:
            resource = change["ResourceChange"]
            replacement = resource.get("Replacement")
            suffix = f" (replacement: {replacement})" if replacement not in (None, "False") else ""
            lines.append(
                f"  {resource['Action']:<7} {resource['LogicalResourceId']} "
                f"[{resource['ResourceType']}]{suffix}"
            )
        token = page.get("NextToken")
        if not token:
            return lines


def apply(
    cloudformation: Any,
    environment: str,
    change_set: str,
    progress: Progress = print,
    poll_seconds: int = 15,
) -> str:
    """Execute a planned change set and wait until the stack settles; return its status."""
    name = stack_name(environment)
    try:
        described = cloudformation.describe_change_set(StackName=name, ChangeSetName=change_set)
    except ClientError as error:
        raise DeployError(
            f"change set {change_set} of stack {name}: "
            f"{error.response['Error']['Message']}; run `plan` first"
        ) from error
    if described["ExecutionStatus"] != "AVAILABLE":
        raise DeployError(
            f"change set {change_set} is {described['ExecutionStatus']} "
            f"({described.get('StatusReason', 'no reason given')}); run `plan` again"
        )
    # A stack that only has its first change set is in REVIEW_IN_PROGRESS: this one creates it.
    creating = not stack_exists(cloudformation, name)
    cloudformation.execute_change_set(StackName=name, ChangeSetName=change_set)
    waiter = "stack_create_complete" if creating else "stack_update_complete"
    progress(
        f"apply: executing {change_set} on {name}; waiting for {waiter.removeprefix('stack_')}"
    )
    try:
        cloudformation.get_waiter(waiter).wait(
            StackName=name, WaiterConfig={"Delay": poll_seconds, "MaxAttempts": 240}
        )
    except WaiterError as error:
        status = error.last_response.get("Stacks", [{}])[0].get("StackStatus", "unknown")
        raise DeployError(
            f"stack {name} ended {status}; see its events in the CloudFormation console "
            f"(CloudFormation rolled back what it could)"
        ) from error
    status = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    progress(f"apply: stack {name} is {status}")
    return status


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", help="AWS region (default: from the AWS configuration)")
    commands = parser.add_subparsers(dest="command", required=True)
    plan_args = commands.add_parser("plan", help="create a change set and show it")
    plan_args.add_argument("--environment", required=True)
    plan_args.add_argument(
        "--template", required=True, type=Path, help="dist/aws/<env>/template.json"
    )
    for flag, parameter in VERSION_PARAMETERS.items():
        plan_args.add_argument(
            f"--{flag.replace('_', '-')}",
            default="",
            dest=flag,
            help=f"S3 object version for {parameter} (default: none)",
        )
    apply_args = commands.add_parser("apply", help="execute a planned change set")
    apply_args.add_argument("--environment", required=True)
    apply_args.add_argument("--change-set", required=True, help="the name `plan` printed")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "plan":
            template = json.loads(args.template.read_text())
            versions = {VERSION_PARAMETERS[k]: getattr(args, k) for k in VERSION_PARAMETERS}
            given = {k: v for k, v in versions.items() if v}
            plan(cloudformation_client(args.region), args.environment, template, given)
        else:
            apply(cloudformation_client(args.region), args.environment, args.change_set)
    except (DeployError, OSError, json.JSONDecodeError) as error:
        print(f"aws.changeset: {error}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as error:
        print(f"aws.changeset: AWS refused or could not be reached: {error} (check credentials, "
              f"--region or AWS_REGION)", file=sys.stderr)
        return 1
    return 0


def cloudformation_client(region: str | None) -> Any:
    return boto3.client("cloudformation", region_name=region)


if __name__ == "__main__":
    sys.exit(main())
