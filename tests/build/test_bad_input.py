"""Bootstrap and re-lock scripts stop with a message that names the problem and the fix."""

import subprocess
import sys


def test_bootstrap_without_python39_says_what_to_install(tmp_path):
    result = subprocess.run(
        ["bash", "pants", "--version"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path / "none"),
             "PANTS_BOOTSTRAP_CACHE": str(tmp_path / "cache")},
        capture_output=True, text=True,
    )
    assert result.returncode == 1
    assert "no CPython 3.9 found" in result.stderr
    assert "pyenv install 3.9" in result.stderr
    assert not (tmp_path / "cache" / "pants-2.17.1" / ".installed").exists()


def test_relock_refuses_an_unknown_resolve():
    result = subprocess.run(
        [sys.executable, "3rdparty/python/relock", "--resolve", "spark"],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    known = "airflow, aws, benchmarks, databricks, tools"
    assert f"unknown resolve spark; known resolves are {known}" in result.stderr


def test_relock_refuses_a_missing_constraints_file(tmp_path):
    missing = tmp_path / "constraints.txt"
    result = subprocess.run(
        [sys.executable, "3rdparty/python/relock", "--airflow-constraints", str(missing)],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert f"--airflow-constraints {missing}: no such file" in result.stderr
