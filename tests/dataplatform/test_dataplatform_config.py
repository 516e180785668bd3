"""The shipped environment files parse, and bad files fail naming the file and the key."""

import pytest
from pydantic import ValidationError

from dataplatform.config import ConfigError, environment_names, load_environment, parse_environment

VALID = """
[owner]
name = "data-platform"
retries = 2
retry_delay_seconds = 60
max_retry_delay_seconds = 600

[databricks]
conn_id = "databricks_prod"
notebook_dir = "/Workspace/nb"
wheel_dir = "/Volumes/w"
polling_period_seconds = 30
min_deferral_seconds = 30

[unity_catalog]
catalog = "dataplatform"

[cluster]
spark_version = "16.4.x-scala2.12"
node_type_id = "i3.xlarge"
policy_id = "ABCD000000000000"
data_security_mode = "SINGLE_USER"
single_user_name = "6d9e1c2a-0b1f-4c3e-9a7d-2f4b5c6d7e8f"

[cluster.autoscale]
min_workers = 2
max_workers = 8

[cluster.tags]
cost_center = "data-platform"

[timeouts]
run_seconds = 3600
task_seconds = 4000

[alerts]
late_run_seconds = 10800

[dbt]
target = "prod"
select = "tag:daily"

[dbt.credentials]
scope = "dbt-prod"
host_key = "host"
http_path_key = "http-path"
token_key = "token"
"""


def test_shipped_environments_parse():
    assert environment_names() == ["local", "prod", "test"]
    for name in environment_names():
        env = load_environment(name)
        assert env.name == name
        assert env.cluster.tags["environment"] == name
        assert env.cluster.python == "3.12", name  # what the code and the dbt-runner wheel need
        # The dbt cluster gets warehouse credentials everywhere (locally from the emulator's scope).
        assert env.dbt.credentials is not None, name


def test_environment_comes_from_env_var(monkeypatch):
    monkeypatch.delenv("MWAA_AIRFLOW_COMPONENT", raising=False)
    monkeypatch.setenv("DATAPLATFORM_ENV", "prod")
    assert load_environment().databricks.conn_id == "databricks_prod"
    monkeypatch.delenv("DATAPLATFORM_ENV")
    assert load_environment().databricks.conn_id == "databricks_local"


def test_on_mwaa_a_missing_environment_is_an_error_not_local(monkeypatch):
    monkeypatch.setenv("MWAA_AIRFLOW_COMPONENT", "worker")
    monkeypatch.delenv("DATAPLATFORM_ENV", raising=False)
    with pytest.raises(ConfigError, match=r"DATAPLATFORM_ENV is not set on MWAA.*local, prod"):
        load_environment()
    monkeypatch.setenv("DATAPLATFORM_ENV", "test")
    assert load_environment().name == "test"


@pytest.mark.parametrize("name", ["staging", "../../tmp/evil", "prod.toml", "envs/prod", "PROD"])
def test_only_shipped_environment_names_are_accepted(monkeypatch, name):
    monkeypatch.setenv("DATAPLATFORM_ENV", name)
    with pytest.raises(ConfigError, match=r"is not an environment; choose one of local, prod"):
        load_environment()


def test_local_config_holds_no_token():
    env = load_environment("local")
    assert env.databricks.conn_id == "databricks_local"
    assert "token" not in repr(env.databricks).lower()
    # dbt's credentials are secret names: the values live in the emulator's secret scope.
    assert env.dbt.credentials.model_dump(exclude_none=True) == {
        "scope": "dataplatform-local-dbt", "host_key": "host", "http_path_key": "http-path",
        "token_key": "token",
    }


def test_config_is_frozen():
    env = load_environment("prod")
    with pytest.raises(ValidationError):
        env.cluster.spark_version = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        env.cluster.tags["cost_center"] = "x"  # type: ignore[index]


def test_valid_text_parses():
    env = parse_environment("prod", VALID, "prod.toml")
    assert env.cluster.autoscale.max_workers == 8
    assert env.alerts.email == ()
    assert env.alerts.late_run_seconds == 10800
    assert env.unity_catalog.table("raw", "orders") == "dataplatform.raw.orders"
    assert env.dbt.credentials.token_key == "token"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "max_workers = 8",
            "max_workers = 'x'",
            "prod.toml: cluster.autoscale.max_workers: Input should be a valid integer, got 'x'",
        ),
        (
            "max_workers = 8",
            "max_workers = 1",
            "prod.toml: cluster.autoscale: max_workers must be >= min_workers",
        ),
        (
            "retries = 2",
            "retries = true",
            "prod.toml: owner.retries: Input should be a valid integer, got True",
        ),
        ('conn_id = "databricks_prod"\n', "", "prod.toml: missing key databricks.conn_id"),
        ("[alerts]", "[alerts]\nslack = 'x'", "prod.toml: unknown key alerts.slack"),
        ("[alerts]", "[extra]\n[alerts]", "prod.toml: unknown key extra"),
        ("[alerts]\nlate_run_seconds = 10800\n", "", "prod.toml: missing key alerts"),
        ("late_run_seconds = 10800\n", "", "prod.toml: missing key alerts.late_run_seconds"),
        (
            "late_run_seconds = 10800",
            "late_run_seconds = 0",
            "prod.toml: alerts.late_run_seconds: Input should be greater than 0, got 0",
        ),
        (
            'notebook_dir = "/Workspace/nb"',
            'notebook_dir = "Workspace/nb"',
            "prod.toml: databricks.notebook_dir: String should match pattern '^/', "
            "got 'Workspace/nb'",
        ),
        (
            'node_type_id = "i3.xlarge"',
            'node_type_id = "i3.xlarge"\ninstance_pool_id = "0101-120000-brick1-pool-ABCD1234"',
            "prod.toml: cluster: set exactly one of node_type_id and instance_pool_id",
        ),
        (
            "[alerts]",
            "[alerts]\nslack_conn_id = 'slack'",
            "prod.toml: alerts: slack_channel is set exactly when slack_conn_id is set",
        ),
        ("[alerts]", "[alerts]\nemail = ['nobody']", "prod.toml: alerts.email.0: String should"),
        ('cost_center = "data-platform"', "team = 'x'", "prod.toml: cluster: tags needs a cost_"),
        ("[owner]", "[owner", "prod.toml: invalid TOML"),
        # Runtimes whose Python is not the code's (15.4 LTS runs Python 3.11).
        (
            '"16.4.x-scala2.12"',
            '"15.4.x-scala2.12"',
            "prod.toml: cluster.spark_version: must be a Databricks LTS runtime running Python "
            "3.12",
        ),
        # Ids, not display names.
        (
            'policy_id = "ABCD000000000000"',
            'policy_id = "prod-job-cluster-policy"',
            "prod.toml: cluster.policy_id: must be an id like 'ABCD000000000000', not a name: "
            "copy it from Compute > Policies, got 'prod-job-cluster-policy'",
        ),
        (
            'node_type_id = "i3.xlarge"',
            'instance_pool_id = "test-pool-m5d-large"',
            "prod.toml: cluster.instance_pool_id: must be an id like",
        ),
        (
            'single_user_name = "6d9e1c2a-0b1f-4c3e-9a7d-2f4b5c6d7e8f"',
            'single_user_name = "jobs@example.com"',
            "prod.toml: cluster.single_user_name: must be an id like",
        ),
        (
            'single_user_name = "6d9e1c2a-0b1f-4c3e-9a7d-2f4b5c6d7e8f"\n',
            "",
            "prod.toml: cluster: single_user_name is set exactly when data_security_mode is "
            "SINGLE_USER",
        ),
        (
            'data_security_mode = "SINGLE_USER"',
            'data_security_mode = "NONE"',
            "prod.toml: cluster.data_security_mode: Input should be 'SINGLE_USER' or "
            "'USER_ISOLATION'",
        ),
        ('catalog = "dataplatform"', 'catalog = "main.raw"', "prod.toml: unity_catalog.catalog:"),
        ("task_seconds = 4000", "task_seconds = 3600", "prod.toml: timeouts: task_seconds must"),
        (
            'token_key = "token"',
            'client_id_key = "id"',
            "prod.toml: dbt.credentials: set client_id_key and client_secret_key (OAuth M2M), or",
        ),
        ('scope = "dbt-prod"', "scope = \"x' }}\"", "prod.toml: dbt.credentials.scope:"),
        ('select = "tag:daily"\n', "", "prod.toml: missing key dbt.select"),
    ],
)
def test_bad_config_names_file_and_key(old, new, message):
    assert old in VALID
    with pytest.raises(ConfigError) as error:
        parse_environment("prod", VALID.replace(old, new, 1), "prod.toml")
    assert str(error.value).startswith(message)
