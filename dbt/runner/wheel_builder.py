"""Finish the dbt-runner wheel: add dbt's saved parse state, version it by its contents.

`python -m wheel_builder --wheel-dir DIR --out OUT` (the `dbt/runner:wheel` build step) takes
the wheel Pants builds from the sources (static version, e.g. 0.1.0) and writes to OUT:
- `dbt_runner-<version>+<hash>-py3-none-any.whl`: the same files plus
  dbt_runner/parse_states/<target>.msgpack (dbt_runner.parse_state), so a run skips parsing.
  <hash> is the start of a sha256 over the source wheel's files and the dbt version that wrote
  the parse state: two different builds never share a file name in a workspace, and rebuilding
  the same sources gives the same name. Only repository files go in, nothing from git or the
  network.
- `wheel-name.txt`: that file name, for deploy code and configuration that must not hard-code
  the version.
"""

import argparse
import base64
import hashlib
import os
import sys
import tempfile
import zipfile
from importlib.metadata import version as installed_version
from pathlib import Path

from dbt_runner.parse_state import PACKAGED_STATES, write_states

NAME_FILE = "wheel-name.txt"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so equal contents give equal bytes


def content_version(entries: dict[str, bytes], base_version: str, dbt_version: str) -> str:
    """`<base_version>+<12 hex digits>` from the wheel's files (not RECORD) and dbt's version."""
    digest = hashlib.sha256(dbt_version.encode())
    for name in sorted(entries):
        if not name.endswith(".dist-info/RECORD"):
            digest.update(name.encode() + b"\0" + hashlib.sha256(entries[name]).digest())
    return f"{base_version}+{digest.hexdigest()[:12]}"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def rewrite(entries: dict[str, bytes], old_info: str, new_info: str, new_version: str) -> dict:
    """The wheel's files with the dist-info directory renamed, METADATA's version replaced and
    RECORD recomputed (RECORD last, as installers expect)."""
    files = {}
    for name, data in entries.items():
        if name == f"{old_info}/RECORD":
            continue
        if name == f"{old_info}/METADATA":
            lines = data.decode().split("\n")
            data = "\n".join(
                f"Version: {new_version}" if line.startswith("Version: ") else line
                for line in lines
            ).encode()
        files[name.replace(f"{old_info}/", f"{new_info}/", 1)] = data
    record = [_record_line(name, data) for name, data in sorted(files.items())]
    files[f"{new_info}/RECORD"] = ("\n".join([*record, f"{new_info}/RECORD,,"]) + "\n").encode()
    return files


def write_wheel(path: Path, files: dict[str, bytes]) -> None:
    """Write the zip next to `path` and rename it into place (never half a wheel)."""
    ordered = sorted(files, key=lambda n: (".dist-info/" in n, n.endswith("/RECORD"), n))
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as wheel:
            for name in ordered:
                info = zipfile.ZipInfo(name, _ZIP_TIME)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                wheel.writestr(info, files[name])
    os.replace(tmp.name, path)


def parse_states(entries: dict[str, bytes]) -> dict[str, bytes]:
    """dbt_runner/parse_states/<target>.msgpack for the project the wheel carries."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in entries.items():
            if name.startswith("dbt_runner/project/"):
                (Path(tmp) / name).parent.mkdir(parents=True, exist_ok=True)
                (Path(tmp) / name).write_bytes(data)
        written = write_states(Path(tmp) / "states", Path(tmp) / "dbt_runner" / "project")
        return {f"dbt_runner/{PACKAGED_STATES}/{p.name}": p.read_bytes() for p in written}


def build(source: Path, out: Path) -> Path:
    with zipfile.ZipFile(source) as wheel:
        entries = {name: wheel.read(name) for name in wheel.namelist()}
    distribution, base_version, tags = source.name.removesuffix(".whl").split("-", 2)
    new_version = content_version(entries, base_version, installed_version("dbt-core"))
    entries |= parse_states(entries)
    files = rewrite(
        entries,
        f"{distribution}-{base_version}.dist-info",
        f"{distribution}-{new_version}.dist-info",
        new_version,
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{distribution}-{new_version}-{tags}.whl"
    write_wheel(path, files)
    (out / NAME_FILE).write_text(path.name + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m wheel_builder", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--wheel-dir", type=Path, required=True, help="holds the source wheel")
    parser.add_argument("--out", type=Path, required=True, help="directory for the result")
    args = parser.parse_args(argv)
    sources = sorted(args.wheel_dir.glob("*.whl"))
    if len(sources) != 1:
        print(
            f"wheel_builder: expected one wheel in {args.wheel_dir}, found {sources}",
            file=sys.stderr,
        )
        return 1
    print(f"wheel_builder: parsing the dbt project of {sources[0].name} once per target ...")
    print(f"wrote {build(sources[0], args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
