"""An MWAA bundle from `mwaa.build`, checked against its MANIFEST.json before anything uploads."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from mwaa.artifacts import MANIFEST_NAME, manifest_mismatches

from deploy.errors import DeployError

# The bundle files MWAA reads as single, versioned objects (everything else lives under dags/).
SINGLE_OBJECTS = ("requirements.txt", "plugins.zip", "startup.sh")
REBUILD = "rebuild it with `./pants package infra/mwaa::` instead of editing it"


@dataclass(frozen=True)
class Bundle:
    root: Path
    environment: str
    manifest_sha256: str
    # Bundle-relative path (e.g. "dags/x/y.py") -> sha256, as MANIFEST.json records it.
    files: dict[str, str]

    @property
    def dags(self) -> list[str]:
        return sorted(p for p in self.files if p.startswith("dags/"))

    def read(self, path: str) -> bytes:
        """The file's bytes, refused if they changed since the manifest was checked."""
        data = (self.root / path).read_bytes()
        if hashlib.sha256(data).hexdigest() != self.files[path]:
            raise DeployError(f"--bundle {self.root}: {path} changed during the upload; {REBUILD}")
        return data


def load_bundle(root: Path, environment: str) -> Bundle:
    """The bundle at ``root`` if it was built for ``environment`` and matches its manifest."""
    manifest_path = root / MANIFEST_NAME
    if not manifest_path.is_file():
        raise DeployError(
            f"--bundle {root}: no {MANIFEST_NAME}; build it with `./pants package infra/mwaa::`"
        )
    manifest_bytes = manifest_path.read_bytes()
    try:
        manifest = json.loads(manifest_bytes)
        files = {entry["path"]: entry["sha256"] for entry in manifest["files"]}
        built_for = manifest["environment"]
        mismatches = manifest_mismatches(root)
    except (ValueError, TypeError, KeyError) as error:
        raise DeployError(f"--bundle {root}: {MANIFEST_NAME} is not a bundle manifest "
                          f"({type(error).__name__}: {error}); {REBUILD}") from None
    if built_for != environment:
        raise DeployError(
            f"--bundle {root} was built for environment {built_for!r}, "
            f"not {environment!r}: pass the bundle of dist/mwaa/{environment}"
        )
    if mismatches:
        raise DeployError(
            f"--bundle {root} differs from its {MANIFEST_NAME} in {', '.join(mismatches)}: "
            f"{REBUILD}"
        )
    missing = [name for name in SINGLE_OBJECTS if name not in files]
    if missing:
        raise DeployError(f"--bundle {root} lacks {', '.join(missing)}: not an MWAA bundle")
    return Bundle(root, environment, hashlib.sha256(manifest_bytes).hexdigest(), files)
