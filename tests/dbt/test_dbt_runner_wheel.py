"""The dbt-runner wheel `./pants package` builds installs in a clean venv and runs its project."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

WHEEL = Path("dbt_runner-0.1.0-py3-none-any.whl")  # where runtime_package_dependencies put it
PINS = Path("3rdparty/python/databricks.txt")
UV = Path(sys.executable).with_name("uv")


def uv(*args: str, env: dict[str, str]) -> None:
    subprocess.run([str(UV), *args], check=True, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv holding only the wheel, its requirements (at the resolve's pins) and pyspark,
    which a Databricks runtime provides."""
    venv = tmp_path_factory.mktemp("clean") / "venv"
    env = os.environ | {"UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR")
                        or str(tmp_path_factory.mktemp("uv-cache"))}
    uv("venv", "--python", sys.executable, str(venv), env=env)
    uv("pip", "install", "--python", str(venv / "bin" / "python"), "--constraint", str(PINS),
       str(WHEEL), "pyspark-client", env=env)
    return venv


def test_wheel_carries_the_dbt_project():
    names = zipfile.ZipFile(WHEEL).namelist()
    assert "dbt_runner/project/dbt_project.yml" in names
    assert "dbt_runner/project/profiles.yml" in names
    assert any(n.startswith("dbt_runner/project/models/marts/") for n in names)


def test_installed_entry_point_parses_the_packaged_project(installed, tmp_path):
    artifacts = tmp_path / "artifacts"
    env = {k: v for k, v in os.environ.items() if k != "SPARK_REMOTE" and not k.startswith("PEX")}
    result = subprocess.run(
        [str(installed / "bin" / "dbt-runner"), "parse", "--target", "local",
         "--artifacts-dir", str(artifacts)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((artifacts / "manifest.json").read_text())
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert {"stg_raw__orders", "orders", "customers"} <= models


def test_installed_entry_point_rejects_an_unknown_target(installed, tmp_path):
    result = subprocess.run(
        [str(installed / "bin" / "dbt-runner"), "parse", "--target", "staging"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2
    assert "staging" in result.stderr
