"""Fixtures for the MWAA bundle tests: real constraint files, a tiny project wheel, bundles."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import mwaa
import pytest

# The checkout; under Pants the sandbox root (the working directory), as it strips source roots.
REPO_ROOT = next(
    p
    for p in (Path.cwd(), *Path(__file__).resolve().parents)
    if (p / "3rdparty" / "python" / "airflow.txt").is_file()
)
AIRFLOW_PINS = REPO_ROOT / "3rdparty" / "python" / "airflow.txt"
# Where the `mwaa` package is importable from, for the CLIs run as subprocesses.
MWAA_SOURCE_ROOT = Path(mwaa.__file__).resolve().parents[1]

# A DAG as the project writes them: the Databricks provider plus the project's own wheel.
PROBE_DAG = """\
from datetime import datetime

from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
from airflow.sdk import DAG

from mwaa_probe import DAG_ID

with DAG(dag_id=DAG_ID, schedule=None, start_date=datetime(2025, 1, 1)):
    DatabricksSubmitRunOperator(task_id="submit", json={"run_name": "probe"})
"""


@pytest.fixture(scope="session")
def constraints_dir() -> Path:
    """MWAA's constraint files, pinned in the repository (3rdparty/mwaa)."""
    return REPO_ROOT / mwaa.CONSTRAINTS_DIR


@pytest.fixture(scope="session")
def uv_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for mwaa.validate: one uv cache per session unless UV_CACHE_DIR is set."""
    cache = os.environ.get("UV_CACHE_DIR") or str(tmp_path_factory.mktemp("uv-cache"))
    return os.environ | {"UV_CACHE_DIR": cache, "PYTHONPATH": str(MWAA_SOURCE_ROOT)}


@pytest.fixture(scope="session")
def tool() -> Callable[[str], str]:
    """Finds a linter installed beside this interpreter (the tools resolve) or on PATH."""

    def find(name: str) -> str:
        here = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        found = shutil.which(name, path=here)
        if found is None:
            pytest.fail(f"{name} not found: install the tools resolve (3rdparty/python/tools.txt)")
        return found

    return find


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def airflow_pins() -> Path:
    """The real uv-compiled pins of the airflow resolve."""
    return AIRFLOW_PINS


@pytest.fixture(scope="session")
def probe_dag() -> str:
    return PROBE_DAG


def make_wheel(folder: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """Write a pure-Python wheel with a correct RECORD, as a project's build would."""
    dist_info = f"{name}-{version}.dist-info"
    members = dict(files)
    members[f"{dist_info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    members[f"{dist_info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = []
    for path, text in sorted(members.items()):
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    members[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in sorted(members.items()):
            archive.writestr(zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0)), text)
    return wheel


@pytest.fixture(scope="session")
def project_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A DAGs tree importing the Databricks provider and a project wheel, plus an extra file."""
    root = tmp_path_factory.mktemp("inputs")
    dags = root / "dags"
    (dags / "probe").mkdir(parents=True)
    (dags / "probe" / "probe_dag.py").write_text(PROBE_DAG)
    wheel = make_wheel(
        root, "mwaa_probe", "0.1.0", {"mwaa_probe/__init__.py": 'DAG_ID = "mwaa_probe"\n'}
    )
    manifest = root / "manifest.json"
    manifest.write_text('{"nodes": {}}\n')
    return {"dags": dags, "wheel": wheel, "manifest": manifest}


BuildBundle = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def build_bundle(
    project_inputs: dict[str, Path], constraints_dir: Path, uv_env: dict[str, str]
) -> BuildBundle:
    """Run `python -m mwaa.build` for the test environment; keyword arguments override inputs."""

    def build(out: Path, *extra: str, dags: Path | None = None, pins: Path = AIRFLOW_PINS):
        argv = [
            sys.executable, "-m", "mwaa.build", "--environment", "test", "--out", str(out),
            "--dags-dir", str(dags or project_inputs["dags"]),
            "--wheel", str(project_inputs["wheel"]),
            "--resolve-pins", str(pins),
            "--airflow-constraints", str(constraints_dir / "constraints-3.12.txt"),
            "--essential-constraints", str(constraints_dir / "mwaa_essential_constraints.txt"),
            "--extra-file", f"{project_inputs['manifest']}=dbt/manifest.json",
            *extra,
        ]  # fmt: skip
        return subprocess.run(argv, env=uv_env, capture_output=True, text=True, timeout=120)

    return build
