"""One CloudFormation stack per environment: bucket, network, roles, MWAA, alarms.

Everything an environment differs in comes from its `[mwaa]` table (aws.settings). The object
versions of plugins.zip, requirements.txt and startup.sh are stack parameters, passed in at
deploy time (empty on the very first deploy, before the bucket holds a bundle).
"""

from __future__ import annotations

import dataclasses
import json

from aws_cdk import (
    Acknowledgment,
    Aws,
    CfnCondition,
    CfnOutput,
    CfnParameter,
    Duration,
    Fn,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_mwaa as mwaa
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from aws.settings import Mwaa

AIRFLOW_VERSION = "3.3.1"
SECRETS_BACKEND = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
BUNDLE_FILES = {
    # parameter name: (bundle file, CfnEnvironment path property, version property)
    "PluginsS3ObjectVersion": ("plugins.zip", "plugins_s3_path", "plugins_s3_object_version"),
    "RequirementsS3ObjectVersion": (
        "requirements.txt", "requirements_s3_path", "requirements_s3_object_version",
    ),
    "StartupScriptS3ObjectVersion": (
        "startup.sh", "startup_script_s3_path", "startup_script_s3_object_version",
    ),
}  # fmt: skip


def airflow_configuration_options(settings: Mwaa) -> dict[str, str]:
    """The Airflow settings MWAA applies: the project's own, then the Secrets Manager backend."""
    backend_kwargs = {
        "connections_prefix": settings.secrets.connections_prefix,
        "variables_prefix": settings.secrets.variables_prefix,
    }
    return {
        **settings.airflow_configuration,
        "secrets.backend": SECRETS_BACKEND,
        "secrets.backend_kwargs": json.dumps(backend_kwargs, sort_keys=True),
    }


class DataPlatformStack(Stack):
    """The AWS side of one environment (see infra/aws/README.md for what and why)."""

    def __init__(self, scope: Construct, construct_id: str, settings: Mwaa, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        self.environment_arn = (
            f"arn:{Aws.PARTITION}:airflow:{Aws.REGION}:{Aws.ACCOUNT_ID}:"
            f"environment/{settings.environment_name}"
        )
        self.key = self._key()
        self.bucket = self._bucket()
        self.vpc, self.security_group = self._network()
        self.execution_role = self._execution_role()
        self.mwaa_environment = self._environment()
        self.deploy_role = self._deploy_role()
        self.topic = self._alarms()
        for name, value in (
            ("BucketName", self.bucket.bucket_name),
            ("EnvironmentName", settings.environment_name),
            ("DeployRoleArn", self.deploy_role.role_arn),
            ("AlarmTopicArn", self.topic.topic_arn),
        ):
            CfnOutput(self, name, value=value)

    def _key(self) -> kms.Key:
        """One customer-managed key for the bucket, MWAA, its logs and the alarm topic."""
        key = kms.Key(
            self, "Key",
            description=f"{self.settings.environment_name}: bucket, MWAA, logs, alarms",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )  # fmt: skip
        key.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchLogsOfThisEnvironment",
            principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                     "kms:Describe*"],
            resources=["*"],
            conditions={
                "ArnLike": {"kms:EncryptionContext:aws:logs:arn": self._log_group_arn("*")}
            },
        ))  # fmt: skip
        key.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsToTheTopic",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
        ))  # fmt: skip
        return key

    def _log_group_arn(self, component: str) -> str:
        return (
            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:"
            f"airflow-{self.settings.environment_name}-{component}"
        )

    def _bucket(self) -> s3.Bucket:
        access_logs = s3.Bucket(
            self, "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,  # log delivery writes SSE-S3 only
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
            removal_policy=RemovalPolicy.RETAIN,
        )  # fmt: skip
        access_logs.node.default_child.add_metadata("checkov", {"skip": [
            {"id": "CKV_AWS_18",
             "comment": "The access-log target; logging it into itself would loop."},
            {"id": "CKV_AWS_21",
             "comment": "Log delivery writes each object once; logs expire after a year."},
        ]})  # fmt: skip
        return s3.Bucket(
            self, "Bucket",
            versioned=True,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="bucket/",
            lifecycle_rules=[s3.LifecycleRule(
                noncurrent_version_expiration=Duration.days(
                    self.settings.noncurrent_version_expiration_days
                ),
            )],
            removal_policy=RemovalPolicy.RETAIN,
        )  # fmt: skip

    def _network(self) -> tuple[ec2.Vpc, ec2.SecurityGroup]:
        """Two private subnets with NAT egress (Databricks and PyPI are on the internet)."""
        vpc = ec2.Vpc(
            self, "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(self.settings.vpc_cidr),
            max_azs=2,
            nat_gateways=self.settings.nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC,
                                        cidr_mask=26),
                ec2.SubnetConfiguration(name="private",
                                        subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                                        cidr_mask=22),
            ],
            # S3 traffic (bundle, logs) skips the NAT gateway: gateway endpoints are free.
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(
                service=ec2.GatewayVpcEndpointAwsService.S3)},
            restrict_default_security_group=False,
        )  # fmt: skip
        flow_logs = logs.LogGroup(
            self, "FlowLogs",
            retention=logs.RetentionDays.THREE_MONTHS,
            encryption_key=self.key,
            removal_policy=RemovalPolicy.RETAIN,
        )  # fmt: skip
        vpc.add_flow_log(
            "FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs)
        )
        security_group = ec2.SecurityGroup(
            self, "MwaaSecurityGroup",
            vpc=vpc,
            description=f"{self.settings.environment_name}: MWAA components reach each other",
            allow_all_outbound=True,
        )  # fmt: skip
        security_group.add_ingress_rule(
            security_group, ec2.Port.all_traffic(), "MWAA components talk to each other"
        )
        return vpc, security_group

    def _prefix_arn(self, pattern: str) -> str:
        return self.bucket.arn_for_objects(f"{self.settings.s3_prefix}/{pattern}")

    def _acknowledge_wildcards(self, policy: iam.ManagedPolicy, reasons: dict[str, str]) -> None:
        """Acknowledge cdk-nag's IAM5 finding for each wildcard, with why it is bounded.

        Keys are the finding's evidence in cdk-nag's notation (``<Logical.Arn>``, ``<AWS::...>``).
        """
        for evidence, reason in reasons.items():
            Validations.of(policy).acknowledge(
                Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[{evidence}]", reason=reason)
            )

    def _nag_arn(self, service: str, resource: str) -> str:
        return f"Resource::arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"

    def _nag_bundle(self) -> str:
        bucket = self.get_logical_id(self.bucket.node.default_child)
        return f"Resource::<{bucket}.Arn>/{self.settings.s3_prefix}/*"

    def _execution_role(self) -> iam.Role:
        """What MWAA's components may do: read the bundle, write their logs, read their secrets."""
        settings = self.settings
        role = iam.Role(
            self, "ExecutionRole",
            assumed_by=iam.CompositePrincipal(
                iam.ServicePrincipal("airflow.amazonaws.com"),
                iam.ServicePrincipal("airflow-env.amazonaws.com"),
            ),
            description=f"{settings.environment_name}: MWAA execution role",
        )  # fmt: skip
        secret_arn = f"arn:{Aws.PARTITION}:secretsmanager:{Aws.REGION}:{Aws.ACCOUNT_ID}:secret:"
        statements = [
            iam.PolicyStatement(sid="PublishMetrics", actions=["airflow:PublishMetrics"],
                                resources=[self.environment_arn]),
            iam.PolicyStatement(sid="ReadBundle", actions=["s3:GetObject", "s3:GetObjectVersion"],
                                resources=[self._prefix_arn("*")]),
            iam.PolicyStatement(
                sid="ListBundle", actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{settings.s3_prefix}/*",
                                                         settings.s3_prefix]}},
            ),
            iam.PolicyStatement(
                sid="CheckBucket",
                actions=["s3:GetBucketLocation", "s3:GetBucketVersioning",
                         "s3:GetBucketPublicAccessBlock", "s3:GetEncryptionConfiguration"],
                resources=[self.bucket.bucket_arn],
            ),
            iam.PolicyStatement(sid="CheckAccountPublicAccess",
                                actions=["s3:GetAccountPublicAccessBlock"], resources=["*"]),
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:CreateLogGroup", "logs:PutLogEvents",
                         "logs:GetLogEvents", "logs:GetLogRecord", "logs:GetLogGroupFields",
                         "logs:GetQueryResults"],
                resources=[f"{self._log_group_arn('*')}", f"{self._log_group_arn('*')}:*"],
            ),
            iam.PolicyStatement(sid="DescribeLogGroups", actions=["logs:DescribeLogGroups"],
                                resources=["*"]),
            iam.PolicyStatement(sid="Metrics", actions=["cloudwatch:PutMetricData"],
                                resources=["*"],
                                conditions={"StringEquals": {
                                    "cloudwatch:namespace": "AmazonMWAA"}}),
            iam.PolicyStatement(
                sid="CeleryQueue",
                actions=["sqs:ChangeMessageVisibility", "sqs:DeleteMessage",
                         "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ReceiveMessage",
                         "sqs:SendMessage"],
                resources=[f"arn:{Aws.PARTITION}:sqs:{Aws.REGION}:*:airflow-celery-*"],
            ),
            iam.PolicyStatement(
                sid="ReadOwnSecrets", actions=["secretsmanager:GetSecretValue"],
                resources=[f"{secret_arn}{settings.secrets.connections_prefix}/*",
                           f"{secret_arn}{settings.secrets.variables_prefix}/*"],
            ),
            iam.PolicyStatement(
                sid="UseOwnKey",
                actions=["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*", "kms:Encrypt"],
                resources=[self.key.key_arn],
                conditions={"StringLike": {"kms:ViaService": [
                    f"sqs.{Aws.REGION}.amazonaws.com", f"s3.{Aws.REGION}.amazonaws.com",
                    f"secretsmanager.{Aws.REGION}.amazonaws.com",
                ]}},
            ),
        ]  # fmt: skip
        policy = iam.ManagedPolicy(self, "ExecutionPolicy", statements=statements)
        log_groups = f"log-group:airflow-{settings.environment_name}-*"
        self._acknowledge_wildcards(policy, {
            self._nag_bundle(): "Read-only, objects under this environment's bundle prefix.",
            "Resource::*": (
                "Only actions AWS grants on '*' alone: s3:GetAccountPublicAccessBlock, "
                "logs:DescribeLogGroups, cloudwatch:PutMetricData (namespace AmazonMWAA only)."
            ),
            self._nag_arn("logs", log_groups): "The log groups MWAA creates for this environment.",
            self._nag_arn("logs", f"{log_groups}:*"): "Streams of this environment's log groups.",
            "Resource::arn:<AWS::Partition>:sqs:<AWS::Region>:*:airflow-celery-*": (
                "MWAA's Celery queues live in a service-owned account under this name pattern "
                "(MWAA's documented execution-role policy)."
            ),
            self._nag_arn("secretsmanager", f"secret:{settings.secrets.connections_prefix}/*"): (
                "GetSecretValue on the connections prefix the secrets backend reads."
            ),
            self._nag_arn("secretsmanager", f"secret:{settings.secrets.variables_prefix}/*"): (
                "GetSecretValue on the variables prefix the secrets backend reads."
            ),
            "Action::kms:GenerateDataKey*": (
                "On this environment's key only, and only through SQS, S3 and Secrets Manager."
            ),
        })  # fmt: skip
        role.add_managed_policy(policy)
        return role

    def _environment(self) -> mwaa.CfnEnvironment:
        settings = self.settings
        optional: dict[str, object] = {}
        for parameter_name, (file_name, path_property, version_property) in BUNDLE_FILES.items():
            parameter = CfnParameter(
                self, parameter_name, type="String", default="",
                description=f"S3 object version of {settings.s3_prefix}/{file_name} "
                            "(empty: the environment runs without it)",
            )  # fmt: skip
            given = CfnCondition(
                self,
                f"Has{parameter_name}",
                expression=Fn.condition_not(Fn.condition_equals(parameter.value_as_string, "")),
            )
            optional[path_property] = Fn.condition_if(
                given.logical_id, f"{settings.s3_prefix}/{file_name}", Aws.NO_VALUE
            ).to_string()
            optional[version_property] = Fn.condition_if(
                given.logical_id, parameter.value_as_string, Aws.NO_VALUE
            ).to_string()
        # Each [mwaa.log_levels] key names a component: dag_processing -> dag_processing_logs.
        logging = {
            f"{field.name}_logs": mwaa.CfnEnvironment.ModuleLoggingConfigurationProperty(
                enabled=True, log_level=getattr(settings.log_levels, field.name)
            )
            for field in dataclasses.fields(settings.log_levels)
        }
        environment = mwaa.CfnEnvironment(
            self, "Environment",
            name=settings.environment_name,
            airflow_version=AIRFLOW_VERSION,
            environment_class=settings.environment_class,
            min_workers=settings.min_workers,
            max_workers=settings.max_workers,
            schedulers=settings.schedulers,
            webserver_access_mode=settings.webserver_access_mode,
            source_bucket_arn=self.bucket.bucket_arn,
            dag_s3_path=f"{settings.s3_prefix}/dags",
            execution_role_arn=self.execution_role.role_arn,
            kms_key=self.key.key_arn,
            network_configuration=mwaa.CfnEnvironment.NetworkConfigurationProperty(
                security_group_ids=[self.security_group.security_group_id],
                subnet_ids=[s.subnet_id for s in self.vpc.private_subnets],
            ),
            logging_configuration=mwaa.CfnEnvironment.LoggingConfigurationProperty(**logging),
            airflow_configuration_options=airflow_configuration_options(settings),
            **optional,
        )  # fmt: skip
        return environment

    def _deploy_role(self) -> iam.Role:
        """GitHub Actions of one repository environment: what `deploy.mwaa upload` and
        `rollback` call to ship a bundle under the prefix, undo a failed upload (object
        versions) and point MWAA at it."""
        settings = self.settings
        provider_arn = f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:oidc-provider/{GITHUB_OIDC_HOST}"
        role = iam.Role(
            self, "GitHubDeployRole",
            assumed_by=iam.WebIdentityPrincipal(provider_arn, conditions={
                "StringEquals": {
                    f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com",
                    f"{GITHUB_OIDC_HOST}:sub": (
                        f"repo:{settings.github_repository}:environment:{settings.github_environment}"
                    ),
                },
            }),
            description=f"{settings.environment_name}: deploys from GitHub Actions (OIDC)",
            max_session_duration=Duration.hours(1),
        )  # fmt: skip
        statements = [
            iam.PolicyStatement(
                sid="ShipBundle",
                actions=["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject",
                         "s3:DeleteObjectVersion"],
                resources=[self._prefix_arn("*")],
            ),
            iam.PolicyStatement(
                sid="ListBundle", actions=["s3:ListBucket", "s3:ListBucketVersions"],
                resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{settings.s3_prefix}/*",
                                                         settings.s3_prefix]}},
            ),
            iam.PolicyStatement(sid="CheckVersioning", actions=["s3:GetBucketVersioning"],
                                resources=[self.bucket.bucket_arn]),
            iam.PolicyStatement(
                sid="EncryptBundle", actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
            ),
            iam.PolicyStatement(sid="UpdateEnvironment",
                                actions=["airflow:GetEnvironment", "airflow:UpdateEnvironment"],
                                resources=[self.environment_arn]),
        ]  # fmt: skip
        policy = iam.ManagedPolicy(self, "DeployPolicy", statements=statements)
        self._acknowledge_wildcards(
            policy,
            {
                self._nag_bundle(): "Bundle files under this environment's prefix only: put, "
                "read and delete (an upload that fails removes the versions it created).",
            },
        )
        role.add_managed_policy(policy)
        return role

    def _alarms(self) -> sns.Topic:
        settings = self.settings
        topic = sns.Topic(
            self,
            "AlarmTopic",
            master_key=self.key,
            enforce_ssl=True,
            display_name=f"{settings.environment_name} alarms",
        )
        name = settings.environment_name

        def airflow_metric(metric: str, function: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AmazonMWAA", metric_name=metric, statistic=statistic,
                dimensions_map={"Environment": name, "Function": function},
                period=Duration.minutes(5),
            )  # fmt: skip

        alarms = [
            cloudwatch.Alarm(
                self, "SchedulerHeartbeatMissing",
                alarm_description=f"{name}: no scheduler heartbeat for 15 minutes",
                metric=airflow_metric("SchedulerHeartbeat", "Scheduler", "Sum"),
                comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                threshold=1, evaluation_periods=3,
                treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
            ),
            cloudwatch.Alarm(
                self, "TaskFailures",
                alarm_description=f"{name}: task instances failed",
                metric=airflow_metric("TaskInstanceFailures", "Scheduler", "Sum"),
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                threshold=1, evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self, "TasksQueuedTooLong",
                alarm_description=(
                    f"{name}: more than {settings.alarms.queued_tasks_threshold} tasks queued "
                    f"for {settings.alarms.queued_minutes} minutes"
                ),
                metric=airflow_metric("QueuedTasks", "Executor", "Minimum").with_(
                    period=Duration.minutes(1)),
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                threshold=settings.alarms.queued_tasks_threshold,
                evaluation_periods=settings.alarms.queued_minutes,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self, "WorkerCpuHigh",
                alarm_description=f"{name}: worker CPU above {settings.alarms.worker_cpu_percent}%",
                metric=cloudwatch.Metric(
                    namespace="AWS/MWAA", metric_name="CPUUtilization", statistic="Average",
                    dimensions_map={"Environment": name, "Cluster": "BaseWorker"},
                    period=Duration.minutes(5),
                ),
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                threshold=settings.alarms.worker_cpu_percent, evaluation_periods=3,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        ]  # fmt: skip
        for alarm in alarms:
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
        return topic
