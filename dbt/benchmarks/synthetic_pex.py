"""A synthetic dbt project (`dataplatform.synthetic_dbt`) built by the `dbt:synthetic-build`
PEX (synthetic_build.py: dbt's manifests and a runner wheel), for benchmarks in resolves without
dbt."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from dataplatform.synthetic_dbt import write_project

PROFILE = "dataplatform"  # the profile of the packaged profiles.yml the build adds


def build_with_pex(
    build_pex: Path, models: int, out: Path, runner_wheel_dir: Path | None = None
) -> Path:
    """Write a `models`-model synthetic project and run `synthetic_build.py` (the
    `dbt:synthetic-build` PEX, which carries dbt) to write the project, its manifests and
    optionally a runner wheel into `out`; returns `out`.

    For benchmarks in resolves without dbt: the PEX brings its own environment, so it runs on
    the base interpreter, without this process's PEX variables."""
    if not build_pex.is_file():
        raise SystemExit(f"{build_pex} is missing: run `./pants package dbt:synthetic-build`")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEX") and k != "SPARK_REMOTE"}
    print(f"building a {models}-model synthetic project (dbt parse) ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="synthetic-project-") as tmp:
        project = write_project(Path(tmp) / "project", models, profile=PROFILE)
        command = [sys._base_executable, str(build_pex), "--project", str(project),
                   "--out", str(out)]
        if runner_wheel_dir:
            command += ["--runner-wheel-dir", str(runner_wheel_dir)]
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"synthetic build of {models} models failed:\n{result.stderr[-3000:]}")
    return out
