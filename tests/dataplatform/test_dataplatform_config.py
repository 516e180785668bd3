"""The shipped environment files parse, and bad files fail naming the file and the key."""

import pytest

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

[cluster]
spark_version = "15.4.x-scala2.12"
node_type_id = "i3.xlarge"

[cluster.autoscale]
min_workers = 2
max_workers = 8

[cluster.tags]
cost_center = "data-platform"

[alerts]

[dbt]
target = "prod"
runner_wheel = "dbt_runner-0.1.0-py3-none-any.whl"
"""


def test_shipped_environments_parse():
    assert environment_names() == ["local", "prod", "test"]
    for name in environment_names():
        env = load_environment(name)
        assert env.name == name
        assert env.cluster.tags["environment"] == name


def test_environment_comes_from_env_var(monkeypatch):
    monkeypatch.setenv("DATAPLATFORM_ENV", "prod")
    assert load_environment().databricks.conn_id == "databricks_prod"
    monkeypatch.delenv("DATAPLATFORM_ENV")
    assert load_environment().databricks.conn_id == "databricks_local"


def test_local_connection_has_no_token_in_config():
    env = load_environment("local")
    assert env.databricks.conn_id == "databricks_local"
    assert "token" not in repr(env).lower()


def test_unknown_environment_names_the_choices():
    with pytest.raises(ConfigError, match=r"DATAPLATFORM_ENV='staging'.*local, prod, test"):
        load_environment("staging")


def test_config_is_frozen():
    env = load_environment("prod")
    with pytest.raises(AttributeError):
        env.cluster.spark_version = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        env.cluster.tags["cost_center"] = "x"  # type: ignore[index]


def test_valid_text_parses():
    env = parse_environment("prod", VALID, "prod.toml")
    assert env.cluster.autoscale.max_workers == 8
    assert env.alerts.email == ()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "max_workers = 8",
            "max_workers = 'x'",
            "prod.toml: cluster.autoscale.max_workers must be an integer >= min_workers, got 'x'",
        ),
        (
            "max_workers = 8",
            "max_workers = 1",
            "prod.toml: cluster.autoscale.max_workers must be an integer >= min_workers, got 1",
        ),
        (
            "retries = 2",
            "retries = true",
            "prod.toml: owner.retries must be an integer >= 0, got True",
        ),
        ('conn_id = "databricks_prod"\n', "", "prod.toml: missing key databricks.conn_id"),
        ("[alerts]", "[alerts]\nslack = 'x'", "prod.toml: unknown key alerts.slack"),
        ("[dbt]", "[extra]\n[dbt]", "prod.toml: unknown key extra"),
        ("[alerts]\n", "", "prod.toml: missing table [alerts]"),
        (
            'notebook_dir = "/Workspace/nb"',
            'notebook_dir = "Workspace/nb"',
            "prod.toml: databricks.notebook_dir must be an absolute path, got 'Workspace/nb'",
        ),
        (
            'node_type_id = "i3.xlarge"',
            'node_type_id = "i3.xlarge"\ninstance_pool_id = "pool"',
            "prod.toml: cluster.instance_pool_id must be set exactly when node_type_id is not",
        ),
        (
            "[alerts]",
            "[alerts]\nslack_conn_id = 'slack'",
            "prod.toml: alerts.slack_channel must be set exactly when slack_conn_id is set, "
            "got None",
        ),
        (
            "[alerts]",
            "[alerts]\nemail = ['nobody']",
            "prod.toml: alerts.email must be a list of e-mail addresses, got ['nobody']",
        ),
        ('cost_center = "data-platform"', "team = 'x'", "prod.toml: cluster.tags must be a table"),
        ("[owner]", "[owner", "prod.toml: invalid TOML"),
    ],
)
def test_bad_config_names_file_and_key(old, new, message):
    assert old in VALID
    with pytest.raises(ConfigError) as error:
        parse_environment("prod", VALID.replace(old, new, 1), "prod.toml")
    assert str(error.value).startswith(message)
