"""mwaa.validate against real resolves (uv, PyPI) and a real Airflow DagBag in a fresh venv.

The good bundle's venv is built once per session; the broken-DAG bundle has the same
requirements, so validation reuses that venv from the shared work dir.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from mwaa.artifacts import write_manifest

BuildBundle = Callable[..., subprocess.CompletedProcess[str]]


def validate(
    bundle: Path, work: Path, constraints: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable, "-m", "mwaa.validate", str(bundle), "--work-dir", str(work),
        "--airflow-constraints", str(constraints / "constraints-3.12.txt"),
        "--essential-constraints", str(constraints / "mwaa_essential_constraints.txt"),
    ]  # fmt: skip
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)


def append_requirement(bundle: Path, line: str) -> None:
    """Edit requirements.txt after the build, as a hand-made bundle would be, and re-hash."""
    with (bundle / "requirements.txt").open("a") as requirements:
        requirements.write(line + "\n")
    header = json.loads((bundle / "MANIFEST.json").read_text())
    del header["files"]
    write_manifest(bundle, header)


@pytest.fixture(scope="session")
def validated(
    build_bundle: BuildBundle,
    constraints_dir: Path,
    uv_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The good bundle, validated once: (shared work dir, result)."""
    root = tmp_path_factory.mktemp("validate")
    assert build_bundle(root / "bundle").returncode == 0
    return root / "work", validate(root / "bundle", root / "work", constraints_dir, uv_env)


def test_good_bundle_installs_and_its_dags_load(
    validated: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _, result = validated
    assert result.returncode == 0, result.stdout + result.stderr
    for step in ("resolve requirements.txt", "build a clean venv", "load dags/"):
        assert f"==> {step}" in result.stdout
    assert "1 DAG(s): mwaa_probe" in result.stdout
    assert result.stdout.count(" s)") == 5  # every step reports its duration


def test_conflict_with_essential_constraints_names_the_package(
    build_bundle: BuildBundle, constraints_dir: Path, uv_env: dict[str, str], tmp_path: Path
) -> None:
    assert build_bundle(tmp_path / "bundle").returncode == 0
    append_requirement(tmp_path / "bundle", "flask==2.2.5")
    result = validate(tmp_path / "bundle", tmp_path / "work", constraints_dir, uv_env)
    assert result.returncode == 1
    assert "flask==2.2.5" in result.stderr
    assert "==> build a clean venv" not in result.stdout


def test_sdist_only_package_is_refused_by_name(
    build_bundle: BuildBundle,
    constraints_dir: Path,
    uv_env: dict[str, str],
    tmp_path: Path,
    airflow_pins: Path,
) -> None:
    pins = tmp_path / "pins.txt"
    # wget 3.2 is published as an sdist only: MWAA would have to build it on every start.
    pins.write_text(airflow_pins.read_text() + "wget==3.2\n    # via -r airflow.in\n")
    assert build_bundle(tmp_path / "bundle", pins=pins).returncode == 0
    result = validate(tmp_path / "bundle", tmp_path / "work", constraints_dir, uv_env)
    assert result.returncode == 1
    assert "wget==3.2 has no usable wheels" in result.stderr


def test_broken_dag_is_reported_by_file(
    validated: tuple[Path, subprocess.CompletedProcess[str]],
    build_bundle: BuildBundle,
    constraints_dir: Path,
    uv_env: dict[str, str],
    tmp_path: Path,
    probe_dag: str,
) -> None:
    work, _ = validated
    dags = tmp_path / "dags"
    (dags / "probe").mkdir(parents=True)
    (dags / "probe" / "probe_dag.py").write_text(probe_dag)
    (dags / "broken_dag.py").write_text("from airflow.sdk import DAG\nimport no_such_module\n")
    assert build_bundle(tmp_path / "bundle", dags=dags).returncode == 0
    result = validate(tmp_path / "bundle", work, constraints_dir, uv_env)
    assert result.returncode == 1
    assert "reusing" in result.stdout
    assert "broken_dag.py" in result.stderr and "no_such_module" in result.stderr
    assert not list((tmp_path / "bundle").rglob("__pycache__"))


def test_missing_bundle_file_exits_2(
    constraints_dir: Path, uv_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "bundle").mkdir()
    result = validate(tmp_path / "bundle", tmp_path / "work", constraints_dir, uv_env)
    assert result.returncode == 2
    assert "requirements.txt" in result.stderr
