"""Find credentials in files, and inside zips and wheels (nested too), before they ship.

    python -m mwaa.secrets_scan PATH [PATH ...]

Prints ``file[!member...]:line: kind`` for each finding, never the secret itself, and exits 1
if there is any (0 when clean, 2 when a path does not exist).
"""

from __future__ import annotations

import io
import re
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mwaa.inputs import InputError, run_cli

ARCHIVE_SUFFIXES = (".zip", ".whl", ".jar", ".egg")
PATTERNS = {
    "Databricks token": re.compile(rb"\bdapi[0-9a-f]{32}\b"),
    "AWS access key id": re.compile(rb"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(
        rb"(?i)aws_?secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"
    ),
    "private key": re.compile(rb"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"),
    "Fernet key": re.compile(rb"(?i)fernet_?key[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9_-]{43}="),
    "Slack token": re.compile(rb"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
}


@dataclass(frozen=True)
class Finding:
    location: str
    line: int
    kind: str

    def __str__(self) -> str:
        return f"{self.location}:{self.line}: {self.kind}"


def scan_bytes(data: bytes, location: str) -> Iterator[Finding]:
    """Findings in ``data``; archives are opened and their members scanned in turn."""
    if location.endswith(ARCHIVE_SUFFIXES) and zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in sorted(archive.namelist()):
                if not name.endswith("/"):
                    yield from scan_bytes(archive.read(name), f"{location}!{name}")
        return
    for kind, pattern in PATTERNS.items():
        for match in pattern.finditer(data):
            yield Finding(location, data.count(b"\n", 0, match.start()) + 1, kind)


def scan_paths(paths: list[str]) -> list[Finding]:
    findings: list[Finding] = []
    for raw in paths:
        root = Path(raw)
        if not root.exists():
            raise InputError(f"path {raw!r} does not exist")
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for file in files:
            findings.extend(scan_bytes(file.read_bytes(), str(file)))
    return sorted(findings, key=lambda f: (f.location, f.line, f.kind))


def main(argv: list[str] | None = None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    if not paths or any(p.startswith("-") for p in paths):
        print(__doc__, file=sys.stderr)
        return 2
    findings = scan_paths(paths)
    for finding in findings:
        print(finding)
    print(f"{len(findings)} secret(s) found" if findings else "no secrets found", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    run_cli(main)
