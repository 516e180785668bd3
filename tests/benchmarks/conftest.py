"""Runs a benchmark script as `./pants run` does, on a tiny input: the tests check what it
prints, never a time (the figures come from `./pants run`, see dbt/README.md)."""

import os
import subprocess
import sys
from pathlib import Path

BUILD_PEX = Path("dbt/synthetic-build.pex").resolve()  # built into the sandbox
REPO = Path(__file__).resolve().parents[2]


def run_benchmark(module: str, *args: str) -> str:
    """The stdout of `python -m module --build-pex <the sandbox's PEX> args...`."""
    result = subprocess.run(
        [sys.executable, "-m", module, "--build-pex", str(BUILD_PEX), *args],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout
