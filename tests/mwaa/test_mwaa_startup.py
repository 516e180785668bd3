"""startup.sh: valid shell, exports only the environment name, prints and leaks no secrets."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from mwaa.secrets_scan import scan_bytes
from mwaa.startup import COMPONENTS, run_sandboxed

# Secrets an MWAA container may hold in its environment; the script must not echo them.
HOST_SECRETS = {
    "AWS_SECRET_ACCESS_KEY": "s3cr3t-" + "k" * 33,
    "AIRFLOW__CORE__FERNET_KEY": "f" * 43 + "=",
    "DATABRICKS_TOKEN": "dapi" + "0" * 32,
}

BuildBundle = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def startup_script(build_bundle: BuildBundle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("startup") / "bundle"
    assert build_bundle(out).returncode == 0
    return out / "startup.sh"


def test_script_is_valid_shell(startup_script: Path, tool: Callable[[str], str]) -> None:
    subprocess.run(["bash", "-n", str(startup_script)], check=True)
    lint = subprocess.run([tool("shellcheck"), str(startup_script)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


@pytest.mark.parametrize("component", COMPONENTS)
def test_exports_only_the_environment_name(startup_script: Path, component: str) -> None:
    result = run_sandboxed(startup_script, component, HOST_SECRETS)
    assert result.exported == {"DATAPLATFORM_ENV": "test"}
    assert result.output == f"dataplatform: DATAPLATFORM_ENV=test on {component}\n"
    assert not any(secret in result.output for secret in HOST_SECRETS.values())
    assert not list(scan_bytes(startup_script.read_bytes(), "startup.sh"))
