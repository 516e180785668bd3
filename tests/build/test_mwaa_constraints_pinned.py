"""MWAA's constraint files are pinned data in the repository: checked offline by sha256."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

REFRESH = Path("3rdparty/mwaa/refresh")


def run_refresh(script: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True)


def test_pinned_files_match_their_manifest():
    result = run_refresh(REFRESH, "--check")
    assert result.returncode == 0, result.stderr
    manifest = json.loads(Path("3rdparty/mwaa/manifest.json").read_text())
    assert set(manifest["files"]) == {
        "3.3.1/constraints-3.12.txt",
        "3.3.1/mwaa_essential_constraints.txt",
    }
    assert all(entry["url"].startswith("https://") for entry in manifest["files"].values())


def test_a_hand_edited_file_is_refused_naming_it(tmp_path):
    copy = tmp_path / "mwaa"
    shutil.copytree(REFRESH.parent, copy)
    pinned = copy / "3.3.1" / "constraints-3.12.txt"
    pinned.write_text(pinned.read_text() + "packaging==99.0\n")
    result = run_refresh(copy / "refresh", "--check")
    assert result.returncode == 1
    assert "3.3.1/constraints-3.12.txt: sha256 differs from manifest.json" in result.stderr
    assert "mwaa_essential" not in result.stderr


def test_refresh_from_a_local_copy_repins(tmp_path):
    copy = tmp_path / "mwaa"
    shutil.copytree(REFRESH.parent, copy)
    source = tmp_path / "source"
    source.mkdir()
    for name in ("constraints-3.12.txt", "mwaa_essential_constraints.txt"):
        (source / name).write_text(f"# a newer {name}\npackaging==25.0\n")
    result = run_refresh(copy / "refresh", "--from", str(source))
    assert result.returncode == 0, result.stderr
    assert run_refresh(copy / "refresh", "--check").returncode == 0
    assert (copy / "3.3.1" / "constraints-3.12.txt").read_text().startswith("# a newer")
