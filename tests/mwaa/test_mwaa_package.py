"""mwaa.package, what `pants package infra/mwaa::` runs: the bundle reaches its folder only when
the secret scan and mwaa.validate (index unreachable) pass; a refusal names file and finding.

The fake secrets are assembled at run time so that this file holds none.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import AIRFLOW_PINS, REPO_ROOT, make_wheel

HEX32 = "0123456789abcdef" * 2
# The credentials that once packaged with exit status 0, each in a DAG file of its own.
LEAKS = {
    "aws_key.py": ("KEY = 'AKIA" + "Q" * 16 + "'", "AWS Access Key"),
    "neutral.py": ("blob = 'wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY'",
                   "AWS secret access key"),
    "uri.py": ("URL = 'postgresql://etl:" + "s3cr3t-pw@db.internal/orders'",
               "Basic Auth Credentials"),
    "github.py": ("GH = 'ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8'", "GitHub Token"),
    "pgp.py": ("PGP = '-----BEGIN PGP PRIVATE " + "KEY BLOCK-----'", "Private Key"),
    "openssh.py": ("SSH = '-----BEGIN OPENSSH PRIVATE " + "KEY-----'", "Private Key"),
    "dapi_lower.py": ("T = 'dapi" + HEX32 + "'", "Databricks token"),
    "dapi_upper.py": ("T = 'DAPI" + HEX32.upper() + "'", "Databricks token"),
}


def package(out: Path, dags: Path, wheel: Path, locked_wheels: Path, constraints_dir: Path,
            env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable, "-m", "mwaa.package",
        "--locked", str(REPO_ROOT / "3rdparty" / "python" / "airflow.lock"),
        "--environment", "test", "--out", str(out), "--dags-dir", str(dags),
        "--wheel", str(wheel), "--resolve-pins", str(AIRFLOW_PINS),
        "--airflow-constraints", str(constraints_dir / "constraints-3.12.txt"),
        "--essential-constraints", str(constraints_dir / "mwaa_essential_constraints.txt"),
        "--locked-wheels", str(locked_wheels),
    ]  # fmt: skip
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)


def test_each_secret_kind_stops_the_package(
    project_inputs: dict[str, Path], constraints_dir: Path, uv_env: dict[str, str],
    tmp_path: Path,
) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    for name, (line, _) in LEAKS.items():
        (dags / name).write_text(line + "\n")
    leaky_wheel = make_wheel(tmp_path, "leaky", "0.1", {"leaky/k.py": LEAKS["aws_key.py"][0]})
    out = tmp_path / "mwaa" / "test"
    result = package(out, dags, leaky_wheel, tmp_path, constraints_dir, uv_env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"REFUSED {out}: secret scan: {len(LEAKS) + 1} secret(s)" in result.stderr
    for name, (_, kind) in LEAKS.items():
        assert f"{out}/dags/{name}:1: {kind}" in result.stderr
    assert (f"{out}/plugins.zip!leaky-0.1-py3-none-any.whl!leaky/k.py:1: AWS Access Key"
            in result.stderr)
    for line, _ in LEAKS.values():
        assert line.split("'")[1] not in result.stderr + result.stdout
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_dag_import_error_stops_the_package_validated_offline(
    project_inputs: dict[str, Path], constraints_dir: Path, uv_env: dict[str, str],
    probe_dag: str, tmp_path: Path,
) -> None:
    # The locked wheels of the airflow resolve, as Pants provides them: here taken from the
    # packaged private-network bundle, which carries all of them.
    locked = tmp_path / "locked"
    with zipfile.ZipFile(Path("mwaa") / "test-private" / "plugins.zip") as archive:
        archive.extractall(locked)
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "probe_dag.py").write_text(probe_dag)
    (dags / "broken_dag.py").write_text("from airflow.sdk import DAG\nimport no_such_module\n")
    out = tmp_path / "mwaa" / "test"
    result = package(out, dags, project_inputs["wheel"], locked, constraints_dir, uv_env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "index unreachable" in result.stdout
    assert "REFUSED" in result.stderr and "mwaa.validate: 1 DAG file(s) fail to import" in (
        result.stderr
    )
    assert "broken_dag.py" in result.stderr and "no_such_module" in result.stderr
    assert not out.exists()
