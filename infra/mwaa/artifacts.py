"""Byte-identical artifacts: fixed zip timestamps and modes, sorted entries, hashed manifest."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644
SCRIPT_MODE = 0o755
MANIFEST_NAME = "MANIFEST.json"


def write_zip(target: Path, members: Mapping[str, bytes]) -> None:
    """Write ``members`` (archive name -> bytes) sorted, dated 1980-01-01, mode 0644."""
    with zipfile.ZipFile(target, "w") as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.create_system = 3  # unix, so external_attr carries the mode
            info.external_attr = (0o100000 | FILE_MODE) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, members[name], compresslevel=9)


def digest(data: bytes) -> dict[str, object]:
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def manifest_entries(root: Path) -> list[dict[str, object]]:
    """One entry per file under ``root`` (except the manifest); zips list their members too."""
    entries = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if relative == MANIFEST_NAME:
            continue
        data = path.read_bytes()
        entry: dict[str, object] = {"path": relative, **digest(data)}
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                entry["members"] = [
                    {"path": name, **digest(archive.read(name))}
                    for name in sorted(archive.namelist())
                    if not name.endswith("/")
                ]
        entries.append(entry)
    return entries


def write_manifest(root: Path, header: Mapping[str, object]) -> None:
    """Write MANIFEST.json: ``header`` (what the bundle is for) plus every file's hash and size."""
    document = {**header, "files": manifest_entries(root)}
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    (root / MANIFEST_NAME).write_text(text, encoding="utf-8")


def manifest_mismatches(root: Path) -> list[str]:
    """Paths whose bytes differ from MANIFEST.json, plus files missing from either side."""
    recorded = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))["files"]
    expected = {e["path"]: (e["sha256"], e["size"]) for e in recorded}
    actual = {e["path"]: (e["sha256"], e["size"]) for e in manifest_entries(root)}
    return sorted(p for p in expected.keys() | actual.keys() if expected.get(p) != actual.get(p))
