"""The local Databricks emulator as the workspace the deploy plans against and applies to.

Under Pants the emulator PEX and the dbt-runner wheel are built into the sandbox (runtime package
dependencies); run by hand, they are taken from dist/ (`./pants package
libs/local_databricks:emulator dbt/runner:wheel`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from local_stack.emulator_process import EmulatorEndpoint, EmulatorProcess

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
EMULATOR_PEX = "libs.local_databricks/emulator.pex"
WHEEL_NAME_FILE = "dbt-runner/wheel-name.txt"


def dist_dir() -> Path:
    """The build's output folder: the Pants sandbox, else dist/."""
    for candidate in (Path.cwd(), REPO / "dist"):
        if (candidate / WHEEL_NAME_FILE).is_file() and (candidate / EMULATOR_PEX).is_file():
            return candidate
    raise FileNotFoundError(
        "the emulator and the dbt-runner wheel are not built: run `./pants package "
        "libs/local_databricks:emulator dbt/runner:wheel` (or `./pants test tests/jobs::`)"
    )


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorEndpoint]:
    state = tmp_path_factory.mktemp("emulator")
    process = EmulatorProcess(dist_dir() / EMULATOR_PEX, state / "databricks", state / "log")
    with process as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def workspace(emulator: EmulatorEndpoint):
    """databricks-sdk on the emulator."""
    from databricks.sdk import WorkspaceClient

    return WorkspaceClient(host=emulator.url, token=emulator.token, auth_type="pat")
