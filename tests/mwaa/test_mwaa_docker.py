"""infra/docker: the optional local images and compose file, linted as Docker would read them.

No Docker engine runs here: hadolint checks the Dockerfile, check-jsonschema checks the
compose file against the Compose specification, shellcheck the image's local-stack script
(tests/docker loads the DAGs from the image's files).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml


@pytest.fixture
def docker_dir(repo_root: Path) -> Path:
    return repo_root / "infra" / "docker"


def test_dockerfile_passes_hadolint(tool: Callable[[str], str], docker_dir: Path) -> None:
    result = subprocess.run(
        [tool("hadolint"), "--no-color", str(docker_dir / "Dockerfile")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_images_local_stack_script_passes_shellcheck(
    tool: Callable[[str], str], docker_dir: Path
) -> None:
    result = subprocess.run([tool("shellcheck"), str(docker_dir / "local-stack")],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_as_non_root_without_secrets(docker_dir: Path) -> None:
    text = (docker_dir / "Dockerfile").read_text()
    users = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert users and "0" not in users and "root" not in users
    assert "3rdparty/python/airflow.txt" in text
    assert "FROM python:3.12-slim" in text
    assert not any(word in text.upper() for word in ("TOKEN=", "PASSWORD=", "SECRET="))


def test_compose_file_matches_the_compose_spec(
    tool: Callable[[str], str], docker_dir: Path
) -> None:
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
         str(docker_dir / "compose.yaml")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_publishes_ports_on_localhost_only(docker_dir: Path) -> None:
    services = yaml.safe_load((docker_dir / "compose.yaml").read_text())["services"]
    assert {"api-server", "scheduler", "databricks"} <= set(services)
    ports = [port for service in services.values() for port in service.get("ports", [])]
    assert ports and all(port.startswith("127.0.0.1:") for port in ports)
