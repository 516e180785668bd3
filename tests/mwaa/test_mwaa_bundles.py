"""The bundles `./pants package` writes for test and prod install and load as on MWAA."""

import subprocess
import sys
from pathlib import Path

import pytest

ENVIRONMENTS = ["test", "prod"]


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_packaged_bundle_validates(env_name, constraints_dir, uv_env, tmp_path_factory):
    bundle = Path("mwaa") / env_name
    work_dir = tmp_path_factory.getbasetemp() / "validate-work"  # shared: one venv for both
    result = subprocess.run(
        [sys.executable, "-m", "mwaa.validate", str(bundle),
         "--airflow-constraints", str(constraints_dir / "constraints-3.12.txt"),
         "--essential-constraints", str(constraints_dir / "mwaa_essential_constraints.txt"),
         "--work-dir", str(work_dir)],
        env=uv_env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "bundle is valid for MWAA" in result.stdout
    for dag_id in ("notebook_orders_ingest", "dbt_daily_models", "workflow_orders_daily"):
        assert dag_id in result.stdout


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_packaged_bundle_has_no_secrets(env_name, uv_env):
    result = subprocess.run(
        [sys.executable, "-m", "mwaa.secrets_scan", str(Path("mwaa") / env_name)],
        env=uv_env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_packaged_bundle_is_complete(env_name):
    bundle = Path("mwaa") / env_name
    names = {p.name for p in bundle.iterdir()}
    assert names == {"dags", "plugins.zip", "requirements.txt", "startup.sh", "MANIFEST.json"}
    assert (bundle / "dags" / "dbt_runs" / "manifest.json").is_file()
    assert f'DATAPLATFORM_ENV="{env_name}"' in (bundle / "startup.sh").read_text()
    requirements = (bundle / "requirements.txt").read_text().splitlines()
    assert requirements[0].startswith("--constraint ")
    assert "dataplatform==0.1.0" in requirements
