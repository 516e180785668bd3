"""The local stack against an emulator that is already serving, as the compose file runs it.

In compose, the Airflow container's `local-stack publish` and `local-stack run-all` reach the
emulator container by URL (`--emulator-url`, token in LOCAL_DATABRICKS_TOKEN) instead of
starting one. Here the session's emulator plays that container: the CLI runs as a separate
process, publishes the notebooks and the wheel, and runs a DAG of the main job on them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dataplatform
import deploy
import local_stack
from conftest import DAGS_FOLDER, NOTEBOOKS, REPO, artifact, dbt_runner_wheel

# Where the CLI's first-party packages import from (one folder each under Pants).
SOURCE_ROOTS = os.pathsep.join(
    dict.fromkeys(str(Path(m.__file__).resolve().parents[1])
                  for m in (dataplatform, deploy, local_stack))  # fmt: skip
)
DBT_MANIFEST = REPO / "tests" / "dbt" / "fixtures" / "manifest.json"


def local_stack_cli(stack, state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m local_stack ... --emulator-url URL`, with only what compose gives it."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(state_dir),
        "PYTHONPATH": SOURCE_ROOTS,
        "LOCAL_DATABRICKS_TOKEN": stack.emulator.token,
        # What the image ships beside the dbt DAGs (see infra/docker/Dockerfile).
        "DATAPLATFORM_DBT_MANIFEST": str(DBT_MANIFEST),
        "DATAPLATFORM_DBT_RUNNER_WHEEL": Path(dbt_runner_wheel()).name,
    }
    notebooks = [arg for path in NOTEBOOKS for arg in ("--notebook", str(path))]
    command = [sys.executable, "-m", "local_stack", *args, "--emulator-url", stack.emulator.url,
               "--state-dir", str(state_dir), "--dags-folder", str(DAGS_FOLDER),
               "--wheel", str(artifact(dbt_runner_wheel())), *notebooks]  # fmt: skip
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=400)


def test_publish_reaches_the_serving_emulator(stack, workspace, tmp_path: Path):
    result = local_stack_cli(stack, tmp_path, "publish")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"published {len(NOTEBOOKS)} notebooks and 1 wheels" in result.stdout


def test_run_all_runs_a_dag_on_the_serving_emulator(stack, tmp_path: Path):
    result = local_stack_cli(stack, tmp_path, "run-all", "--dag", "notebook_orders_ingest")
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("notebook_orders")]
    assert len(rows) == 1, result.stdout
    row = rows[0]
    assert row.split()[1] == "success"
    assert f"emulator on {stack.emulator.url}" in result.stdout


def test_emulator_url_needs_the_token(stack, tmp_path: Path):
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": SOURCE_ROOTS}
    result = subprocess.run(
        [sys.executable, "-m", "local_stack", "publish", "--emulator-url", stack.emulator.url],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--emulator-url needs LOCAL_DATABRICKS_TOKEN" in result.stderr
