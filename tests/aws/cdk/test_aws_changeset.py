"""plan creates and shows a change set, apply executes it: against botocore's Stubber.

The Stubber checks every request against CloudFormation's service model, so a wrong parameter
name or type fails here as it would against AWS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from aws import changeset

STACK = "dataplatform-test"
TEMPLATE = {
    "Parameters": {
        "PluginsS3ObjectVersion": {"Type": "String", "Default": ""},
        "RequirementsS3ObjectVersion": {"Type": "String", "Default": ""},
        "StartupScriptS3ObjectVersion": {"Type": "String", "Default": ""},
    },
    "Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}},
}
NO_STACK = "Stack with id dataplatform-test does not exist"


def stacks(status: str) -> dict[str, Any]:
    return {
        "Stacks": [
            {"StackName": STACK, "StackStatus": status, "CreationTime": "2026-01-01T00:00:00Z"}
        ]
    }


@pytest.fixture
def cloudformation() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "cloudformation",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def change_set_description(status: str = "CREATE_COMPLETE", reason: str = "") -> dict[str, Any]:
    return {
        "StackName": STACK, "ChangeSetName": "cs",
        "Status": status, "ExecutionStatus": "AVAILABLE" if not reason else "UNAVAILABLE",
        "StatusReason": reason,
        "Changes": [
            {"Type": "Resource", "ResourceChange": {
                "Action": "Modify", "LogicalResourceId": "Environment",
                "ResourceType": "AWS::MWAA::Environment", "Replacement": "False"}},
            {"Type": "Resource", "ResourceChange": {
                "Action": "Add", "LogicalResourceId": "TaskFailures",
                "ResourceType": "AWS::CloudWatch::Alarm"}},
        ] if not reason else [],
    }  # fmt: skip


def test_plan_creates_an_update_change_set_with_the_object_versions(cloudformation) -> None:
    client, stub = cloudformation
    stub.add_response("describe_stacks", stacks("UPDATE_COMPLETE"), {"StackName": STACK})
    stub.add_response("create_change_set", {"Id": "arn:cs", "StackId": "arn:stack"}, {
        "StackName": STACK, "ChangeSetName": ANY, "ChangeSetType": "UPDATE",
        "TemplateBody": json.dumps(TEMPLATE, separators=(",", ":"), sort_keys=True),
        "Parameters": [
            {"ParameterKey": "PluginsS3ObjectVersion", "ParameterValue": "p-v2"},
            {"ParameterKey": "RequirementsS3ObjectVersion", "ParameterValue": "r-v2"},
            {"ParameterKey": "StartupScriptS3ObjectVersion", "ParameterValue": ""},
        ],
        "Capabilities": ["CAPABILITY_IAM"], "Description": "dataplatform test",
    })  # fmt: skip
    stub.add_response("describe_change_set", change_set_description())  # the waiter
    stub.add_response("describe_change_set", change_set_description())  # the listing
    lines: list[str] = []
    name = changeset.plan(client, "test", TEMPLATE,
                          {"PluginsS3ObjectVersion": "p-v2", "RequirementsS3ObjectVersion": "r-v2"},
                          lines.append)  # fmt: skip
    assert name is not None and name.startswith(f"{STACK}-")
    assert "  Modify  Environment [AWS::MWAA::Environment]" in lines
    assert "  Add     TaskFailures [AWS::CloudWatch::Alarm]" in lines
    assert lines[-1] == f"plan: apply it with `apply --environment test --change-set {name}`"


def test_plan_of_a_new_stack_creates_it(cloudformation) -> None:
    client, stub = cloudformation
    stub.add_client_error("describe_stacks", "ValidationError", NO_STACK)
    stub.add_response("create_change_set", {"Id": "arn:cs"}, {
        "StackName": STACK, "ChangeSetName": ANY, "ChangeSetType": "CREATE", "TemplateBody": ANY,
        "Parameters": ANY, "Capabilities": ["CAPABILITY_IAM"], "Description": ANY,
    })  # fmt: skip
    stub.add_response("describe_change_set", change_set_description())
    stub.add_response("describe_change_set", change_set_description())
    assert changeset.plan(client, "test", TEMPLATE, {}, lambda _: None)


def test_plan_without_changes_deletes_the_change_set(cloudformation) -> None:
    client, stub = cloudformation
    stub.add_response("describe_stacks", stacks("CREATE_COMPLETE"))
    stub.add_response("create_change_set", {"Id": "arn:cs"})
    reason = "The submitted information didn't contain changes. Submit different information."
    failed = change_set_description(status="FAILED", reason=reason)
    stub.add_response("describe_change_set", failed)  # the waiter sees FAILED
    stub.add_response("describe_change_set", failed)  # plan reads the reason
    stub.add_response("delete_change_set", {}, {"StackName": STACK, "ChangeSetName": ANY})
    lines: list[str] = []
    assert changeset.plan(client, "test", TEMPLATE, {}, lines.append) is None
    assert lines[-1] == f"plan: stack {STACK} is up to date; nothing to apply"


def test_plan_reports_a_failed_change_set(cloudformation) -> None:
    client, stub = cloudformation
    stub.add_client_error("describe_stacks", "ValidationError", NO_STACK)
    stub.add_response("create_change_set", {"Id": "arn:cs"})
    failed = change_set_description(status="FAILED", reason="Template format error: bad Fn::If")
    stub.add_response("describe_change_set", failed)
    stub.add_response("describe_change_set", failed)
    with pytest.raises(changeset.DeployError, match="failed: Template format error: bad Fn::If"):
        changeset.plan(client, "test", TEMPLATE, {}, lambda _: None)


def test_apply_executes_the_change_set_and_waits_for_the_update(cloudformation) -> None:
    client, stub = cloudformation
    stub.add_response(
        "describe_change_set", change_set_description(), {"StackName": STACK, "ChangeSetName": "cs"}
    )
    stub.add_response("describe_stacks", stacks("UPDATE_COMPLETE"), {"StackName": STACK})
    stub.add_response("execute_change_set", {}, {"StackName": STACK, "ChangeSetName": "cs"})
    stub.add_response("describe_stacks", stacks("UPDATE_IN_PROGRESS"))  # the waiter polls
    stub.add_response("describe_stacks", stacks("UPDATE_COMPLETE"))
    stub.add_response("describe_stacks", stacks("UPDATE_COMPLETE"))
    lines: list[str] = []
    assert changeset.apply(client, "test", "cs", lines.append, poll_seconds=0) == "UPDATE_COMPLETE"
    assert lines[-1] == f"apply: stack {STACK} is UPDATE_COMPLETE"


def test_apply_of_the_first_change_set_waits_for_the_creation(cloudformation) -> None:
    client, stub = cloudformation
    stub.add_response("describe_change_set", change_set_description())
    stub.add_response("describe_stacks", stacks("REVIEW_IN_PROGRESS"))
    stub.add_response("execute_change_set", {})
    stub.add_response("describe_stacks", stacks("CREATE_COMPLETE"))
    stub.add_response("describe_stacks", stacks("CREATE_COMPLETE"))
    assert (
        changeset.apply(client, "test", "cs", lambda _: None, poll_seconds=0) == "CREATE_COMPLETE"
    )


def test_apply_reports_a_rollback(cloudformation) -> None:
    client, stub = cloudformation
    stub.add_response("describe_change_set", change_set_description())
    stub.add_response("describe_stacks", stacks("UPDATE_COMPLETE"))
    stub.add_response("execute_change_set", {})
    stub.add_response("describe_stacks", stacks("UPDATE_ROLLBACK_COMPLETE"))
    with pytest.raises(changeset.DeployError, match="ended UPDATE_ROLLBACK_COMPLETE"):
        changeset.apply(client, "test", "cs", lambda _: None, poll_seconds=0)


def test_apply_refuses_a_change_set_that_cannot_run(cloudformation) -> None:
    client, stub = cloudformation
    stub.add_response("describe_change_set", change_set_description(status="FAILED", reason="x"))
    with pytest.raises(changeset.DeployError, match="is UNAVAILABLE .*run `plan` again"):
        changeset.apply(client, "test", "cs", lambda _: None)
