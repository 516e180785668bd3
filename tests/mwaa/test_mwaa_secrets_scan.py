"""mwaa.secrets_scan: planted credentials are found by file and line, even in nested zips.

The fake secrets are assembled at run time so that this file holds none.
"""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

BuildBundle = Callable[..., subprocess.CompletedProcess[str]]


HEX32 = "0123456789abcdef" * 2
PLANTED = {
    "Databricks token": "token = 'dapi" + HEX32 + "'",
    "AWS access key id": "key = 'AKIA" + "Q" * 16 + "'",
    "AWS secret access key": "aws_secret_access_key = "
    + "wJalrXUtnFEMI/K7MDENG/bPxRfiCY"
    + "A" * 10,
    "private key": "-----BEGIN RSA " + "PRIVATE KEY-----",
    "Fernet key": "fernet_key = " + "x" * 43 + "=",
    "Slack token": "SLACK = 'xox" + "b-1234567890-abcdefghij'",
}


def scan(*paths: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "mwaa.secrets_scan", *map(str, paths)]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_clean_bundle_passes(
    build_bundle: BuildBundle, uv_env: dict[str, str], tmp_path: Path
) -> None:
    assert build_bundle(tmp_path / "bundle").returncode == 0
    result = scan(tmp_path / "bundle", env=uv_env)
    assert result.returncode == 0, result.stdout
    assert "no secrets found" in result.stderr


def test_finds_each_kind_in_a_wheel_inside_plugins_zip(
    uv_env: dict[str, str], tmp_path: Path
) -> None:
    module = "\n".join(["'''Settings.'''", *PLANTED.values()]) + "\n"
    wheel = zipped({"leaky/__init__.py": b"", "leaky/settings.py": module.encode()})
    (tmp_path / "plugins.zip").write_bytes(zipped({"leaky-0.1-py3-none-any.whl": wheel}))
    result = scan(tmp_path, env=uv_env)
    assert result.returncode == 1
    where = f"{tmp_path / 'plugins.zip'}!leaky-0.1-py3-none-any.whl!leaky/settings.py"
    expected = [f"{where}:{line}: {kind}" for line, kind in enumerate(PLANTED, start=2)]
    assert sorted(result.stdout.splitlines()) == sorted(expected)
    for secret in PLANTED.values():
        assert secret.split()[-1].strip("'") not in result.stdout + result.stderr


def test_plain_file_and_missing_path(uv_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "startup.sh").write_text("#!/bin/sh\nexport TOKEN=dapi" + HEX32 + "\n")
    found = scan(tmp_path / "startup.sh", env=uv_env)
    assert found.returncode == 1
    assert found.stdout.strip() == f"{tmp_path / 'startup.sh'}:2: Databricks token"
    missing = scan(tmp_path / "absent", env=uv_env)
    assert missing.returncode == 2 and "absent" in missing.stderr
