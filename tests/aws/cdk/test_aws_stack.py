"""The synthesized stack of each environment has the properties the platform relies on."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match

from aws.changeset import VERSION_PARAMETERS
from aws.stack import AIRFLOW_VERSION, SECRETS_BACKEND, airflow_configuration_options

from conftest import Synthesized


def resources(s: Synthesized, kind: str) -> dict[str, Any]:
    return s.template.find_resources(kind)


def one(s: Synthesized, kind: str, props: dict[str, Any] | None = None) -> dict[str, Any]:
    found = s.template.find_resources(kind, {"Properties": props} if props else None)
    assert len(found) == 1, f"expected one {kind}, found {sorted(found)}"
    return next(iter(found.values()))


def statements(s: Synthesized, construct: Any) -> dict[str, dict[str, Any]]:
    """Sid -> statement of a managed policy, its intrinsic functions kept as synthesized."""
    policy = s.template.to_json()["Resources"][s.logical_id(construct)]
    return {st["Sid"]: st for st in policy["Properties"]["PolicyDocument"]["Statement"]}


def text(value: Any) -> str:
    """An ARN built with Fn::Join, flattened so its literal parts can be compared."""
    return json.dumps(value)


def test_bucket_is_versioned_kms_encrypted_private_and_logged(synthesized: Synthesized) -> None:
    s = synthesized
    key = s.logical_id(s.stack.key)
    bucket = s.template.to_json()["Resources"][s.logical_id(s.stack.bucket)]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    encryption = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": [key, "Arn"]},
    }  # fmt: skip
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True,
        "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }  # fmt: skip
    [rule] = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": s.settings.noncurrent_version_expiration_days
    }
    assert bucket["LoggingConfiguration"]["DestinationBucketName"]["Ref"] != s.logical_id(
        s.stack.bucket
    )
    one(s, "AWS::KMS::Key", {"EnableKeyRotation": True})


def test_bucket_policy_refuses_plain_http(synthesized: Synthesized) -> None:
    s = synthesized
    s.template.has_resource_properties("AWS::S3::BucketPolicy", {
        "Bucket": {"Ref": s.logical_id(s.stack.bucket)},
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Effect": "Deny", "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Principal": {"AWS": "*"},
        })])},
    })  # fmt: skip


def test_environment_runs_airflow_331_from_the_bucket_with_the_configured_size(
    synthesized: Synthesized,
) -> None:
    s, m = synthesized, synthesized.settings
    s.template.has_resource_properties("AWS::MWAA::Environment", {
        "Name": m.environment_name,
        "AirflowVersion": AIRFLOW_VERSION,
        "SourceBucketArn": {"Fn::GetAtt": [s.logical_id(s.stack.bucket), "Arn"]},
        "DagS3Path": f"{m.s3_prefix}/dags",
        "EnvironmentClass": m.environment_class,
        "MinWorkers": m.min_workers,
        "MaxWorkers": m.max_workers,
        "Schedulers": m.schedulers,
        "WebserverAccessMode": m.webserver_access_mode,
        "KmsKey": {"Fn::GetAtt": [s.logical_id(s.stack.key), "Arn"]},
        "ExecutionRoleArn": {"Fn::GetAtt": [s.logical_id(s.stack.execution_role), "Arn"]},
    })  # fmt: skip
    assert AIRFLOW_VERSION == "3.3.1"


def test_bundle_object_versions_are_deploy_time_parameters(synthesized: Synthesized) -> None:
    s, prefix = synthesized, synthesized.settings.s3_prefix
    template = s.template.to_json()
    environment = one(s, "AWS::MWAA::Environment")["Properties"]
    # The parameters `aws.changeset plan` passes are exactly the template's.
    assert set(template["Parameters"]) == set(VERSION_PARAMETERS.values())
    for parameter, path_property, file_name in (
        ("PluginsS3ObjectVersion", "PluginsS3Path", "plugins.zip"),
        ("RequirementsS3ObjectVersion", "RequirementsS3Path", "requirements.txt"),
        ("StartupScriptS3ObjectVersion", "StartupScriptS3Path", "startup.sh"),
    ):
        assert template["Parameters"][parameter]["Type"] == "String"
        condition = f"Has{parameter}"
        assert environment[parameter] == {
            "Fn::If": [condition, {"Ref": parameter}, {"Ref": "AWS::NoValue"}]
        }
        assert environment[path_property] == {
            "Fn::If": [condition, f"{prefix}/{file_name}", {"Ref": "AWS::NoValue"}]
        }
        assert template["Conditions"][condition] == {
            "Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]
        }


def test_every_component_logs_to_cloudwatch_at_its_level(synthesized: Synthesized) -> None:
    s, levels = synthesized, synthesized.settings.log_levels
    logging = one(s, "AWS::MWAA::Environment")["Properties"]["LoggingConfiguration"]
    assert logging == {
        "DagProcessingLogs": {"Enabled": True, "LogLevel": levels.dag_processing},
        "SchedulerLogs": {"Enabled": True, "LogLevel": levels.scheduler},
        "TaskLogs": {"Enabled": True, "LogLevel": levels.task},
        "WebserverLogs": {"Enabled": True, "LogLevel": levels.webserver},
        "WorkerLogs": {"Enabled": True, "LogLevel": levels.worker},
    }


def test_airflow_reads_connections_and_variables_from_secrets_manager(
    synthesized: Synthesized,
) -> None:
    s, m = synthesized, synthesized.settings
    options = one(s, "AWS::MWAA::Environment")["Properties"]["AirflowConfigurationOptions"]
    assert options["secrets.backend"] == SECRETS_BACKEND
    assert json.loads(options["secrets.backend_kwargs"]) == {
        "connections_prefix": m.secrets.connections_prefix,
        "variables_prefix": m.secrets.variables_prefix,
    }
    for key, value in m.airflow_configuration.items():
        assert options[key] == value
    assert options == airflow_configuration_options(m)


def test_network_has_two_private_subnets_nat_egress_and_a_self_referencing_group(
    synthesized: Synthesized,
) -> None:
    s, m = synthesized, synthesized.settings
    subnets = resources(s, "AWS::EC2::Subnet")
    private = [k for k, v in subnets.items() if not v["Properties"]["MapPublicIpOnLaunch"]]
    assert len(private) == 2
    network = one(s, "AWS::MWAA::Environment")["Properties"]["NetworkConfiguration"]
    assert sorted(ref["Ref"] for ref in network["SubnetIds"]) == sorted(private)
    assert len(resources(s, "AWS::EC2::NatGateway")) == m.nat_gateways
    s.template.has_resource_properties("AWS::EC2::VPCEndpoint", {
        "VpcEndpointType": "Gateway",
        "ServiceName": Match.object_like({"Fn::Join": Match.array_with([
            Match.array_with([Match.string_like_regexp(r"\.s3$")])])}),
    })  # fmt: skip
    group = s.logical_id(s.stack.security_group)
    assert network["SecurityGroupIds"] == [{"Fn::GetAtt": [group, "GroupId"]}]
    s.template.has_resource_properties("AWS::EC2::SecurityGroupIngress", {
        "GroupId": {"Fn::GetAtt": [group, "GroupId"]},
        "SourceSecurityGroupId": {"Fn::GetAtt": [group, "GroupId"]},
        "IpProtocol": "-1",
    })  # fmt: skip
    one(s, "AWS::EC2::FlowLog", {"ResourceType": "VPC"})


def test_execution_role_reads_its_prefix_writes_its_logs_reads_its_secrets(
    synthesized: Synthesized,
) -> None:
    s, m = synthesized, synthesized.settings
    role = s.template.to_json()["Resources"][s.logical_id(s.stack.execution_role)]["Properties"]
    services = {st["Principal"]["Service"] for st in role["AssumeRolePolicyDocument"]["Statement"]}
    assert services == {"airflow.amazonaws.com", "airflow-env.amazonaws.com"}
    policy = statements(s, s.stack.node.find_child("ExecutionPolicy"))
    assert policy["ReadBundle"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert text(policy["ReadBundle"]["Resource"]).endswith(f'"/{m.s3_prefix}/*"]]}}')
    assert policy["ListBundle"]["Condition"] == {
        "StringLike": {"s3:prefix": [f"{m.s3_prefix}/*", m.s3_prefix]}
    }
    logs = text(policy["WriteOwnLogs"]["Resource"])
    assert f"log-group:airflow-{m.environment_name}-*" in logs
    assert policy["ReadOwnSecrets"]["Action"] == "secretsmanager:GetSecretValue"
    secrets = text(policy["ReadOwnSecrets"]["Resource"])
    assert f"secret:{m.secrets.connections_prefix}/*" in secrets
    assert f"secret:{m.secrets.variables_prefix}/*" in secrets
    assert policy["UseOwnKey"]["Resource"] == {"Fn::GetAtt": [s.logical_id(s.stack.key), "Arn"]}
    # Nothing writes to the bucket, and nothing reads secrets outside the prefixes.
    for statement in policy.values():
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert not any(a.startswith("s3:Put") or a.startswith("s3:Delete") for a in actions)
        if any(a.startswith("secretsmanager:") for a in actions):
            assert statement["Sid"] == "ReadOwnSecrets"


def test_github_deploy_role_ships_bundle_objects_and_updates_one_environment(
    synthesized: Synthesized,
) -> None:
    s, m = synthesized, synthesized.settings
    role = s.template.to_json()["Resources"][s.logical_id(s.stack.deploy_role)]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert "oidc-provider/token.actions.githubusercontent.com" in text(trust["Principal"])
    assert trust["Condition"] == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub":
            f"repo:{m.github_repository}:environment:{m.github_environment}",
    }}  # fmt: skip
    policy = statements(s, s.stack.node.find_child("DeployPolicy"))
    # Exactly what deploy.mwaa upload/rollback call (infra/deploy), each on its own resource.
    assert {sid: st["Action"] for sid, st in policy.items()} == {
        "ShipBundle": ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject",
                       "s3:DeleteObjectVersion"],
        "ListBundle": ["s3:ListBucket", "s3:ListBucketVersions"],
        "CheckVersioning": "s3:GetBucketVersioning",
        "EncryptBundle": ["kms:GenerateDataKey", "kms:Decrypt"],
        "UpdateEnvironment": ["airflow:GetEnvironment", "airflow:UpdateEnvironment"],
    }  # fmt: skip
    assert text(policy["ShipBundle"]["Resource"]).endswith(f'"/{m.s3_prefix}/*"]]}}')
    assert policy["ListBundle"]["Condition"] == {
        "StringLike": {"s3:prefix": [f"{m.s3_prefix}/*", m.s3_prefix]}
    }
    assert "kms:ViaService" in text(policy["EncryptBundle"]["Condition"])
    assert f"environment/{m.environment_name}" in text(policy["UpdateEnvironment"]["Resource"])


def test_alarms_notify_the_encrypted_topic(synthesized: Synthesized) -> None:
    s, m = synthesized, synthesized.settings
    topic = s.logical_id(s.stack.topic)
    one(
        s, "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [s.logical_id(s.stack.key), "Arn"]}}
    )
    alarms = {
        v["Properties"]["MetricName"]: v["Properties"]
        for v in resources(s, "AWS::CloudWatch::Alarm").values()
    }
    assert set(alarms) == {
        "SchedulerHeartbeat",
        "TaskInstanceFailures",
        "QueuedTasks",
        "CPUUtilization",
    }
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": topic}]
        assert {"Name": "Environment", "Value": m.environment_name} in alarm["Dimensions"]
    heartbeat = alarms["SchedulerHeartbeat"]
    assert (heartbeat["ComparisonOperator"], heartbeat["TreatMissingData"]) == (
        "LessThanThreshold",
        "breaching",
    )
    queued = alarms["QueuedTasks"]
    assert queued["Threshold"] == m.alarms.queued_tasks_threshold
    assert queued["EvaluationPeriods"] * queued["Period"] == m.alarms.queued_minutes * 60
    assert alarms["CPUUtilization"]["Namespace"] == "AWS/MWAA"
    assert alarms["CPUUtilization"]["Threshold"] == m.alarms.worker_cpu_percent
