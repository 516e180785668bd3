"""mwaa.secrets_scan: planted credentials are found by file and line, even in nested zips, and
only wheels a lockfile pins by hash are skipped.

The fake secrets are assembled at run time so that this file holds none.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

BuildBundle = Callable[..., subprocess.CompletedProcess[str]]

HEX32 = "0123456789abcdef" * 2
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
# Line text -> the kind the scan reports; one secret per line.
PLANTED = {
    "token = 'dapi" + HEX32 + "'": "Databricks token",
    "TOKEN = 'DAPI" + HEX32.upper() + "'": "Databricks token",
    "key = 'AKIA" + "Q" * 16 + "'": "AWS Access Key",
    "blob = '" + AWS_SECRET + "'": "AWS secret access key",
    "url = 'postgresql://etl:" + "s3cr3t-pw@db.internal:5432/orders'": "Basic Auth Credentials",
    "GH = 'ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8'": "GitHub Token",
    "-----BEGIN PGP PRIVATE " + "KEY BLOCK-----": "Private Key",
    "-----BEGIN OPENSSH PRIVATE " + "KEY-----": "Private Key",
    "fernet_key = " + "x" * 43 + "=": "Fernet key",
    "SLACK = 'xox" + "b-1234567890-abcdefghij'": "Slack Token",
}


def scan(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "mwaa.secrets_scan", *map(str, args)]
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
    module = "\n".join(["'''Settings.'''", *PLANTED]) + "\n"
    wheel = zipped({"leaky/__init__.py": b"", "leaky/settings.py": module.encode()})
    (tmp_path / "plugins.zip").write_bytes(zipped({"leaky-0.1-py3-none-any.whl": wheel}))
    result = scan(tmp_path, env=uv_env)
    assert result.returncode == 1
    where = f"{tmp_path / 'plugins.zip'}!leaky-0.1-py3-none-any.whl!leaky/settings.py"
    expected = [f"{where}:{line}: {kind}" for line, kind in enumerate(PLANTED.values(), start=2)]
    assert sorted(result.stdout.splitlines()) == sorted(expected)
    for line in PLANTED:
        secret = line.split("'")[1] if "'" in line else line
        assert secret not in result.stdout + result.stderr


def test_wheel_record_digests_are_not_secrets(uv_env: dict[str, str], tmp_path: Path) -> None:
    """A RECORD digest (urlsafe base64) can hold 40 characters shaped like an AWS secret key;
    only the digests are exempt: a key elsewhere in RECORD is still found."""
    digest = "-" + AWS_SECRET.replace("/", "7") + "_x"
    record = f"pkg/a.py,sha256={digest},12\n{AWS_SECRET},sha256={'A' * 43},12\n"
    wheel = zipped({"pkg/a.py": b"", "pkg-0.1.dist-info/RECORD": record.encode()})
    (tmp_path / "pkg-0.1-py3-none-any.whl").write_bytes(wheel)
    result = scan(tmp_path, env=uv_env)
    where = f"{tmp_path / 'pkg-0.1-py3-none-any.whl'}!pkg-0.1.dist-info/RECORD"
    assert result.stdout.splitlines() == [f"{where}:2: AWS secret access key"]


def test_plain_file_and_missing_path(uv_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "startup.sh").write_text("#!/bin/sh\nexport TOKEN=dapi" + HEX32 + "\n")
    found = scan(tmp_path / "startup.sh", env=uv_env)
    assert found.returncode == 1
    assert found.stdout.strip() == f"{tmp_path / 'startup.sh'}:2: Databricks token"
    missing = scan(tmp_path / "absent", env=uv_env)
    assert missing.returncode == 2 and "absent" in missing.stderr


def test_only_wheels_the_lockfile_pins_by_hash_are_skipped(
    uv_env: dict[str, str], tmp_path: Path
) -> None:
    """Third-party wheels of a private-network plugins.zip are PyPI's bytes, pinned by hash in
    the lockfile; a wheel whose bytes differ (a project wheel, a tampered one) is scanned."""
    leaky = zipped({"vendor/keys.py": ("K = 'AKIA" + "Q" * 16 + "'\n").encode()})
    locked = tmp_path / "airflow.lock"
    locked.write_text('{"hash": "' + hashlib.sha256(leaky).hexdigest() + '"}\n')
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "plugins.zip").write_bytes(
        zipped({"vendor-1.0-py3-none-any.whl": leaky})
    )
    assert scan(tmp_path / "bundle", "--locked", locked, env=uv_env).returncode == 0
    locked.write_text('{"hash": "' + "0" * 64 + '"}\n')
    result = scan(tmp_path / "bundle", "--locked", locked, env=uv_env)
    assert result.returncode == 1
    assert result.stdout.strip().endswith("vendor-1.0-py3-none-any.whl!vendor/keys.py:1: "
                                          "AWS Access Key")

