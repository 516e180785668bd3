"""The `[mwaa]` loader refuses bad tables, naming the file and the key."""

from __future__ import annotations

from importlib import resources

import pytest

from aws.settings import SettingsError, environment_names, load_mwaa, parse_mwaa


def shipped(environment: str) -> str:
    folder = resources.files("dataplatform").joinpath("environments")
    return folder.joinpath(f"{environment}.toml").read_text()


def test_every_deployed_environment_has_valid_settings() -> None:
    assert environment_names() == ["prod", "test"]
    for environment in environment_names():
        assert load_mwaa(environment).environment_name == f"dataplatform-{environment}"


@pytest.mark.parametrize(("edit", "message"), [
    (("min_workers = 1", "min_workers = 0"), "test.toml: mwaa.min_workers must be an integer >= 1"),
    (("max_workers = 2", "max_workers = \"2\""), "test.toml: mwaa.max_workers must be int"),
    (("schedulers = 2", "schedulers = 1"), "test.toml: mwaa.schedulers must be 2 to 5"),
    (("mw1.small", "m5.large"), "test.toml: mwaa.environment_class must be one of mw1.micro"),
    (("scheduler = \"INFO\"", "scheduler = \"LOUD\""), "mwaa.log_levels must be levels among"),
    (("s3_prefix = \"mwaa\"", "s3_prefix = \"mwaa/\""), "mwaa.s3_prefix must be a key prefix"),
    (("nat_gateways = 1", "nat_gateway = 1"), "test.toml: unknown key mwaa.nat_gateway"),
    (("\"core.default_task_retries\"", "\"secrets.backend\""), "free of secrets.*"),
])  # fmt: skip
def test_bad_values_name_the_file_and_key(edit: tuple[str, str], message: str) -> None:
    # Edit inside [mwaa] only: the file's other tables (the DAGs') have keys of the same names.
    head, mwaa = shipped("test").split("[mwaa]", 1)
    assert edit[0] in mwaa
    text = head + "[mwaa]" + mwaa.replace(edit[0], edit[1], 1)
    with pytest.raises(SettingsError, match=message.replace("*", r"\*").replace("(", r"\(")):
        parse_mwaa(text, source="test.toml")


def test_unknown_environment_lists_the_known_ones() -> None:
    with pytest.raises(
        SettingsError,
        match=(
            "'staging' has no \\[mwaa\\] table in dataplatform/environments/staging.toml; "
            "choose one of prod, test"
        ),
    ):
        load_mwaa("staging")
