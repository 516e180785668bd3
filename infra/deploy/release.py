"""The release: the build outputs one commit deploys to test and then, unchanged, to prod.

    python infra/deploy/release.py write --root dist --commit SHA PATH...
    python infra/deploy/release.py verify --root dist --commit SHA
    python infra/deploy/release.py tested-candidates --commit SHA

`write` (after the one build on `develop`) records every file under the given paths,
relative to ``--root``, with its sha256 and size, and the commit and git tree they were built
from, in ``<root>/RELEASE.json``. `verify` (before each deploy) refuses a release of another
commit, one built from another tree than the checkout's HEAD, or one whose files differ from
RELEASE.json, naming each missing, changed or extra file. `tested-candidates` prints the commits
whose release a commit on `main` may promote: the commit itself, or a parent with the very same
tree (the `develop` commit a merge brought in unchanged).

Standard library only: the prod deploy runs it from the checkout, with nothing built.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

RELEASE_NAME = "RELEASE.json"
EXIT_REFUSED = 2
CHUNK = 1 << 20


class ReleaseError(Exception):
    """A release that must not be deployed; the message names the file or commit and the fix."""


@dataclass(frozen=True)
class FileDigest:
    sha256: str
    size: int


def file_digest(path: Path) -> FileDigest:
    """sha256 and size of ``path``, read in chunks (plugins.zip of a private bundle is ~160 MB)."""
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return FileDigest(sha.hexdigest(), size)


def files_under(root: Path, paths: list[str]) -> dict[str, FileDigest]:
    """Every file under ``root/<path>`` for each path, keyed by its root-relative POSIX path."""
    found: dict[str, FileDigest] = {}
    for top in paths:
        start = root / top
        candidates = [start] if start.is_file() else sorted(start.rglob("*"))
        for path in candidates:
            if path.is_file():
                found[path.relative_to(root).as_posix()] = file_digest(path)
    return found


def git_tree(commit: str, repo: Path) -> str:
    """The tree object ``commit`` points at: equal trees mean byte-identical sources."""
    return git(repo, "rev-parse", f"{commit}^{{tree}}")


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed in {repo}: {result.stderr.strip()}")
    return result.stdout.strip()


def write_release(root: Path, paths: list[str], commit: str, tree: str) -> Path:
    """Record ``paths`` (relative to ``root``) in RELEASE.json, atomically."""
    missing = [top for top in paths if not (root / top).exists()]
    if missing:
        raise ReleaseError(f"{', '.join(missing)} not found under {root}: package them first")
    files = files_under(root, paths)
    if not files:
        raise ReleaseError(f"no files under {', '.join(paths)} in {root}: nothing to release")
    document = {
        "commit": commit,
        "tree": tree,
        "paths": sorted(paths),
        "files": [
            {"path": name, "sha256": digest.sha256, "size": digest.size}
            for name, digest in sorted(files.items())
        ],
    }
    target = root / RELEASE_NAME
    with tempfile.NamedTemporaryFile("w", dir=root, delete=False, suffix=".tmp") as stream:
        json.dump(document, stream, indent=2, sort_keys=True)
        stream.write("\n")
    os.replace(stream.name, target)
    return target


def verify_release(root: Path, commit: str, tree: str) -> int:
    """Refuse the release at ``root`` unless it is ``commit``'s, byte for byte; its file count."""
    manifest = root / RELEASE_NAME
    if not manifest.is_file():
        raise ReleaseError(
            f"no {RELEASE_NAME} in {root}: download the release artifact of commit {commit} there"
        )
    try:
        document = json.loads(manifest.read_text(encoding="utf-8"))
        recorded = {
            entry["path"]: FileDigest(entry["sha256"], entry["size"])
            for entry in document["files"]
        }
        built_commit, built_tree, paths = document["commit"], document["tree"], document["paths"]
    except (ValueError, TypeError, KeyError) as error:
        raise ReleaseError(
            f"{manifest} is not a release manifest ({type(error).__name__}: {error})"
        ) from None
    if built_commit != commit:
        raise ReleaseError(
            f"{manifest} is the release of commit {built_commit}, not {commit}: download the "
            f"artifact of commit {commit}"
        )
    if built_tree != tree:
        raise ReleaseError(
            f"{manifest} was built from tree {built_tree}, but the checkout's tree is {tree}: "
            "deploy from the checkout of the commit the release was built from"
        )
    problems = differences(recorded, files_under(root, paths))
    if problems:
        raise ReleaseError(
            f"the release in {root} differs from its {RELEASE_NAME} ({'; '.join(problems)}): "
            f"download the artifact of commit {commit} again; never edit a release"
        )
    return len(recorded)


def differences(recorded: dict[str, FileDigest], actual: dict[str, FileDigest]) -> list[str]:
    """One line per file that is missing, unrecorded, or whose bytes differ from the record."""
    problems = []
    for name in sorted(recorded.keys() | actual.keys()):
        if name not in actual:
            problems.append(f"{name}: missing")
        elif name not in recorded:
            problems.append(f"{name}: not in {RELEASE_NAME}")
        elif actual[name] != recorded[name]:
            problems.append(
                f"{name}: sha256 {actual[name].sha256} ({actual[name].size} bytes), recorded "
                f"{recorded[name].sha256} ({recorded[name].size} bytes)"
            )
    return problems


def tested_candidates(commit: str, repo: Path) -> list[str]:
    """``commit`` and those of its parents with its exact tree: the commits it may promote."""
    tree = git_tree(commit, repo)
    commit_and_parents = git(repo, "rev-list", "--parents", "-n", "1", commit).split()
    candidates = [c for c in commit_and_parents if git_tree(c, repo) == tree]
    if not candidates:  # a commit always has its own tree; this guards a git surprise
        raise ReleaseError(f"commit {commit} has no tree in {repo}")
    return candidates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    write = commands.add_parser("write", help="record the release's files in RELEASE.json")
    write.add_argument("paths", nargs="+", help="files or folders under --root to release")
    verify = commands.add_parser("verify", help="refuse a release that is not the commit's")
    for command in (write, verify):
        command.add_argument("--root", type=Path, required=True, help="e.g. dist")
    candidates = commands.add_parser(
        "tested-candidates", help="commits whose release a commit on main may promote"
    )
    for command in (write, verify, candidates):
        command.add_argument("--commit", required=True, help="the release's full commit sha")
        command.add_argument("--repo", type=Path, default=Path("."), help="the git checkout")
    args = parser.parse_args(argv)
    try:
        if args.command == "tested-candidates":
            print("\n".join(tested_candidates(args.commit, args.repo)))
            return 0
        if args.command == "write":
            tree = git_tree(args.commit, args.repo)
            target = write_release(args.root, args.paths, args.commit, tree)
            print(f"release of {args.commit}: {target}")
        else:
            count = verify_release(args.root, args.commit, git_tree("HEAD", args.repo))
            print(f"release of {args.commit} verified: {count} files match their sha256")
    except ReleaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_REFUSED
    return 0


if __name__ == "__main__":
    sys.exit(main())
