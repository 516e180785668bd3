"""The dbt-runner wheel `./pants package` builds: its name, its metadata against the configured
Databricks runtimes, and the installed entry point reusing the parse state it carries."""

import os
import re
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

BUILT = Path("dbt-runner")  # where runtime_package_dependencies put dbt/runner:wheel
PINS = Path("3rdparty/python/databricks.txt")
ENVIRONMENTS = Path("libs/dataplatform/dataplatform/environments")
UV = Path(sys.executable).with_name("uv")
# Python of each Databricks Runtime LTS release ("System environment" in the release notes).
RUNTIME_PYTHON = {"15.4": "3.11", "16.4": "3.12", "17.3": "3.12"}
SKIPPED_PARSE = "Partial parsing enabled, no changes found, skipping parsing"


@pytest.fixture(scope="module")
def wheel() -> Path:
    return BUILT / (BUILT / "wheel-name.txt").read_text().strip()


@pytest.fixture(scope="module")
def metadata(wheel):
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return Parser().parsestr(archive.read(name).decode())


def configured_runtimes() -> dict[str, str]:
    """environment name -> cluster.spark_version, from every environment TOML."""
    return {
        path.stem: tomllib.loads(path.read_text())["cluster"]["spark_version"]
        for path in sorted(ENVIRONMENTS.glob("*.toml"))
    }


def runtime_python(spark_version: str) -> str:
    release = re.match(r"(\d+\.\d+)\.x-", spark_version)
    assert release and release[1] in RUNTIME_PYTHON, f"unknown runtime {spark_version!r}"
    return RUNTIME_PYTHON[release[1]]


def uv(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(UV), *args], env=env, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def uv_env(tmp_path_factory) -> dict[str, str]:
    return os.environ | {
        "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR") or str(tmp_path_factory.mktemp("uv-cache"))
    }


@pytest.fixture(scope="module")
def installed(tmp_path_factory, wheel, uv_env) -> Path:
    """A venv holding only the wheel, its requirements (at the resolve's pins) and pyspark,
    which a Databricks runtime provides."""
    venv = tmp_path_factory.mktemp("clean") / "venv"
    for args in (
        ("venv", "--python", sys.executable, str(venv)),
        ("pip", "install", "--python", str(venv / "bin" / "python"), "--constraint", str(PINS),
         str(wheel), "pyspark-client"),
    ):
        done = uv(*args, env=uv_env)
        assert done.returncode == 0, done.stderr
    return venv


def test_wheel_name_and_version_come_from_its_contents(wheel, metadata):
    assert re.fullmatch(r"dbt_runner-0\.1\.0\+[0-9a-f]{12}-py3-none-any\.whl", wheel.name)
    assert metadata["Version"] == wheel.name.split("-")[1]


def test_wheel_carries_the_project_the_runner_macros_and_a_parse_state_per_target(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "dbt_runner/project/dbt_project.yml" in names
    assert "dbt_runner/project/profiles.yml" in names
    assert any(n.startswith("dbt_runner/project/models/marts/") for n in names)
    assert "dbt_runner/macros/reset_csv_table.sql" in names
    assert {f"dbt_runner/parse_states/{t}.msgpack" for t in ("local", "test", "prod")} <= set(names)


@pytest.mark.parametrize("environment", sorted(configured_runtimes()))
def test_configured_runtime_python_satisfies_requires_python(environment, metadata):
    spark_version = configured_runtimes()[environment]
    python = runtime_python(spark_version)
    requires = SpecifierSet(metadata["Requires-Python"])
    assert requires.contains(f"{python}.0"), (
        f"{ENVIRONMENTS / environment}.toml runs cluster.spark_version {spark_version} "
        f"(Python {python}), but the dbt-runner wheel requires Python {requires}: "
        "move the environment to a runtime with that Python, or change interpreter_constraints "
        "in dbt/runner/BUILD"
    )


def test_requirements_are_ranges_installable_on_each_configured_runtime(metadata, uv_env, tmp_path):
    requirements = {Requirement(r).name: str(Requirement(r).specifier)
                    for r in metadata.get_all("Requires-Dist")}
    for name in ("dbt-core", "dbt-spark", "dbt-databricks"):
        assert requirements.get(name) and not re.fullmatch(r"==[\d.]+", requirements[name]), name
    listed = tmp_path / "requirements.in"
    listed.write_text("\n".join(metadata.get_all("Requires-Dist")) + "\n")
    for python in sorted({runtime_python(v) for v in configured_runtimes().values()}):
        resolved = uv("pip", "compile", "--quiet", "--python-version", python,
                      "--python-platform", "x86_64-manylinux_2_28", str(listed), env=uv_env)
        assert resolved.returncode == 0, f"Python {python}: {resolved.stderr}"
        assert "dbt-databricks==" in resolved.stdout


def run_installed(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k != "SPARK_REMOTE" and not k.startswith(("PEX", "DATABRICKS_", "DBT_"))}
    return subprocess.run([str(venv / "bin" / "dbt-runner"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("target", ["local", "prod"])
def test_installed_entry_point_reuses_the_shipped_parse_state(installed, tmp_path, target):
    artifacts = tmp_path / "artifacts"
    result = run_installed(installed, tmp_path, "parse", "--target", target,
                           "--artifacts-dir", str(artifacts))
    assert result.returncode == 0, result.stdout + result.stderr
    assert SKIPPED_PARSE in (artifacts / "dbt.log").read_text()
    assert (artifacts / "manifest.json").is_file()


def test_installed_entry_point_rejects_an_unknown_target(installed, tmp_path):
    result = run_installed(installed, tmp_path, "parse", "--target", "staging")
    assert result.returncode == 1
    assert "staging" in result.stderr
