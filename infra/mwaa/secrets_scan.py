"""Find credentials in files, and inside zips and wheels (nested too), before they ship.

    python -m mwaa.secrets_scan PATH [PATH ...] [--locked LOCKFILE]

Every line of every file is checked by detect-secrets' pattern detectors (AWS keys, private key
blocks of every kind, credentials in URIs, GitHub, Slack, Stripe... tokens) and by the project's
own patterns on top (Databricks tokens in any case, AWS secret keys in any variable, Fernet
keys). Archives are opened and their members scanned the same way. A wheel whose sha256 appears
in --locked (a lockfile pinning third-party artifacts by hash) is a published artifact, not
project code, and is skipped. Prints ``file[!member...]:line: kind`` per finding, never the
secret itself; exits 1 if there is any (0 when clean, 2 when a path does not exist).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import math
import re
import sys
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.ip_public import IPPublicDetector

from mwaa.inputs import InputError, existing_file, run_cli

ARCHIVE_SUFFIXES = (".zip", ".whl", ".jar", ".egg")
SHA256 = re.compile(r"\b[0-9a-f]{64}\b")
# A wheel's RECORD lists each file's urlsafe-base64 sha256: 43 random characters, which can
# hold a run of 40 that looks like an AWS secret key. Those digests are not scanned.
RECORD_DIGEST = re.compile(r"(?<=,sha256=)[A-Za-z0-9_-]{43}(?=,)")


def high_entropy_key(candidate: str) -> bool:
    """An AWS secret access key is 40 random base64 characters: mixed case, digits, and far
    from the low entropy of words and paths."""
    counts = Counter(candidate)
    entropy = -sum(n / len(candidate) * math.log2(n / len(candidate)) for n in counts.values())
    classes = (str.isupper, str.islower, str.isdigit)
    return entropy >= 3.5 and all(any(test(c) for c in candidate) for test in classes)


@dataclass(frozen=True)
class ProjectPattern:
    kind: str
    pattern: re.Pattern[str]
    accept: Callable[[str], bool] = lambda _: True


# What detect-secrets' detectors miss or only find beside a telling variable name.
PROJECT_PATTERNS = (
    ProjectPattern("Databricks token", re.compile(r"(?i)(?<![a-z0-9])dapi[0-9a-f]{32}")),
    ProjectPattern(
        "AWS secret access key",
        re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
        high_entropy_key,
    ),
    ProjectPattern(
        "Fernet key", re.compile(r"(?i)fernet_?key[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9_-]{43}=")
    ),
)


@cache
def detectors() -> tuple[RegexBasedDetector, ...]:
    """detect-secrets' pattern detectors (the entropy and keyword heuristics flag every hash and
    `password=` argument in a DAG; public IPs are not secrets)."""
    classes = get_mapping_from_secret_type_to_class().values()
    return tuple(
        cls() for cls in sorted(classes, key=lambda c: c.secret_type)
        if issubclass(cls, RegexBasedDetector) and cls is not IPPublicDetector
    )


@dataclass(frozen=True)
class Finding:
    location: str
    line: int
    kind: str

    def __str__(self) -> str:
        return f"{self.location}:{self.line}: {self.kind}"


def line_findings(line: str) -> set[str]:
    kinds = {d.secret_type for d in detectors() if any(True for _ in d.analyze_string(line))}
    for project in PROJECT_PATTERNS:
        if any(project.accept(m.group(0)) for m in project.pattern.finditer(line)):
            kinds.add(project.kind)
    return kinds


def scan_bytes(data: bytes, location: str,
               locked: frozenset[str] = frozenset()) -> Iterator[Finding]:
    """Findings in ``data``; archives are opened and their members scanned in turn."""
    if location.endswith(ARCHIVE_SUFFIXES) and zipfile.is_zipfile(io.BytesIO(data)):
        if location.endswith(".whl") and hashlib.sha256(data).hexdigest() in locked:
            return
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in sorted(archive.namelist()):
                if not name.endswith("/"):
                    yield from scan_bytes(archive.read(name), f"{location}!{name}", locked)
        return
    text = data.decode("utf-8", errors="replace")
    if location.endswith(".dist-info/RECORD"):
        text = RECORD_DIGEST.sub("", text)
    for number, line in enumerate(text.splitlines(), start=1):
        for kind in sorted(line_findings(line)):
            yield Finding(location, number, kind)


def locked_hashes(lockfile: str | None) -> frozenset[str]:
    """Every sha256 a lockfile (Pex/Pants JSON or pip --hash lines) pins."""
    if lockfile is None:
        return frozenset()
    return frozenset(SHA256.findall(existing_file(lockfile, "--locked").read_text()))


def scan_paths(paths: list[str], lockfile: str | None = None) -> list[Finding]:
    locked = locked_hashes(lockfile)
    findings: list[Finding] = []
    for raw in paths:
        root = Path(raw)
        if not root.exists():
            raise InputError(f"path {raw!r} does not exist")
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for file in files:
            findings.extend(scan_bytes(file.read_bytes(), str(file), locked))
    return sorted(findings, key=lambda f: (f.location, f.line, f.kind))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mwaa.secrets_scan",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", help="files or directories to scan")
    parser.add_argument("--locked", help="lockfile whose pinned wheels are skipped")
    args = parser.parse_args(argv)
    findings = scan_paths(args.paths, args.locked)
    for finding in findings:
        print(finding)
    print(f"{len(findings)} secret(s) found" if findings else "no secrets found", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    run_cli(main)
