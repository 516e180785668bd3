"""The bundles `./pants package` writes for test and prod install and load as on MWAA: with
internet access (index) and on a private network (plugins.zip only, index unreachable)."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

ENVIRONMENTS = ["test", "prod"]
BUNDLES = [*ENVIRONMENTS, *(f"{env}-private" for env in ENVIRONMENTS)]
PROJECT_WHEEL = (
    "dataplatform @ file:///usr/local/airflow/plugins/dataplatform-0.1.0-py3-none-any.whl"
)


@pytest.mark.parametrize("bundle_name", BUNDLES)
def test_packaged_bundle_validates(bundle_name, constraints_dir, uv_env, tmp_path_factory):
    bundle = Path("mwaa") / bundle_name
    work_dir = tmp_path_factory.getbasetemp() / "validate-work"  # shared: one venv per mode
    result = subprocess.run(
        [sys.executable, "-m", "mwaa.validate", str(bundle),
         "--airflow-constraints", str(constraints_dir / "constraints-3.12.txt"),
         "--essential-constraints", str(constraints_dir / "mwaa_essential_constraints.txt"),
         "--work-dir", str(work_dir)],
        env=uv_env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "bundle is valid for MWAA" in result.stdout
    offline = "(plugins.zip only, index unreachable)" in result.stdout
    assert offline == bundle_name.endswith("-private")
    for dag_id in ("notebook_orders_ingest", "dbt_daily_models", "workflow_orders_daily"):
        assert dag_id in result.stdout


@pytest.mark.parametrize("bundle_name", BUNDLES)
def test_packaged_bundle_has_no_secrets(bundle_name, uv_env):
    lockfile = REPO_ROOT / "3rdparty" / "python" / "airflow.lock"
    result = subprocess.run(
        [sys.executable, "-m", "mwaa.secrets_scan", str(Path("mwaa") / bundle_name),
         "--locked", str(lockfile)],
        env=uv_env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("bundle_name", BUNDLES)
def test_packaged_bundle_is_complete(bundle_name):
    env_name = bundle_name.removesuffix("-private")
    bundle = Path("mwaa") / bundle_name
    names = {p.name for p in bundle.iterdir()}
    assert names == {"dags", "plugins.zip", "requirements.txt", "startup.sh", "MANIFEST.json"}
    assert (bundle / "dags" / "dbt_runs" / "manifest.json").is_file()
    assert f'DATAPLATFORM_ENV="{env_name}"' in (bundle / "startup.sh").read_text()
    requirements = (bundle / "requirements.txt").read_text().splitlines()
    assert requirements[-1] == PROJECT_WHEEL
    if bundle_name == env_name:
        assert requirements[0].startswith("--constraint ")


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_private_bundle_carries_a_wheel_for_every_locked_pin(env_name):
    bundle = Path("mwaa") / f"{env_name}-private"
    requirements = (bundle / "requirements.txt").read_text().splitlines()
    assert requirements[:3] == [
        "--no-index",
        "--find-links /usr/local/airflow/plugins",
        "--constraint /usr/local/airflow/plugins/constraints-3.12.txt",
    ]
    with zipfile.ZipFile(bundle / "plugins.zip") as archive:
        names = archive.namelist()
    wheels = {
        (name, str(version))
        for name, version, _, _ in (parse_wheel_filename(n) for n in names if n.endswith(".whl"))
    }
    pins = [Requirement(line) for line in requirements[3:-1]]
    assert pins and all(
        (canonicalize_name(p.name), str(next(iter(p.specifier)).version)) in wheels for p in pins
    )
    assert "constraints-3.12.txt" in names
    # Every pin of the airflow resolve is shipped, apache-airflow itself included.
    resolve = [
        line.split("==")
        for line in (REPO_ROOT / "3rdparty" / "python" / "airflow.txt").read_text().splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    ]
    assert {(canonicalize_name(n), v) for n, v in resolve} <= wheels
