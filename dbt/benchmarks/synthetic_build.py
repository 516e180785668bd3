"""Build a synthetic dbt project of N models the way the project builds its real one.

`python synthetic_build.py --models N --out DIR [--runner-wheel-dir D]` writes into DIR:
- `project/`: the generated project (synthetic_project.py) with the packaged project's
  profiles.yml and macros, so it runs on the same targets;
- `manifest.json`: dbt's full parse output (what cosmos reads);
- `slim-manifest.json`: the manifest as the DAG bundle ships it (`dbt/runner:manifest`);
- with `--runner-wheel-dir` (which holds the `dbt/runner:unversioned-wheel` wheel): `wheel/`,
  the dbt-runner wheel carrying this project instead of the packaged one, finished by
  `wheel_builder` (saved parse states, content version) and its `wheel-name.txt`.

DIR is written to a temporary directory beside it and renamed at the end: it is complete or
absent. Runs in the databricks resolve (dbt), as a PEX the benchmarks start:
  ./pants package dbt:synthetic-build && python dist/dbt/synthetic-build.pex --models 300 --out D
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import wheel_builder
from dbt_runner.manifest import slim_manifest, write_manifest
from dbt_runner.project import packaged_project

from benchmarks.synthetic_project import generate_project

PROJECT_IN_WHEEL = "dbt_runner/project/"


def add_packaged_profile(project: Path) -> None:
    """The packaged project's profiles.yml and macros (the Sail location clause among them)."""
    packaged = packaged_project()
    shutil.copy2(packaged / "profiles.yml", project / "profiles.yml")
    shutil.copytree(packaged / "macros", project / "macros")


def runner_wheel_with(project: Path, source_wheel: Path, out: Path) -> Path:
    """The dbt-runner wheel with `project` as its packaged project, finished by wheel_builder."""
    with zipfile.ZipFile(source_wheel) as wheel:
        entries = {n: wheel.read(n) for n in wheel.namelist() if not n.startswith(PROJECT_IN_WHEEL)}
    for path in sorted(p for p in project.rglob("*") if p.is_file()):
        entries[PROJECT_IN_WHEEL + path.relative_to(project).as_posix()] = path.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        swapped = Path(tmp) / source_wheel.name
        with zipfile.ZipFile(swapped, "w") as wheel:
            for name, data in entries.items():
                wheel.writestr(name, data)
        return wheel_builder.build(swapped, out)


def one_wheel(directory: Path) -> Path:
    wheels = sorted(directory.glob("*.whl"))
    if len(wheels) != 1:
        raise SystemExit(
            f"synthetic_build: expected one wheel in {directory}, found {len(wheels)}; run "
            "`./pants package dbt/runner:unversioned-wheel`"
        )
    return wheels[0]


def build(models: int, out: Path, source_wheel: Path | None) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        project = generate_project(work / "project", models)
        add_packaged_profile(project)
        started = time.perf_counter()
        write_manifest(work / "manifest.json", project)
        manifest = json.loads((work / "manifest.json").read_text())
        (work / "slim-manifest.json").write_text(slim_manifest(manifest))
        print(f"{models} models: dbt parse in {time.perf_counter() - started:.1f} s", flush=True)
        if source_wheel:
            print("building the dbt-runner wheel with this project (a parse per target) ...",
                  flush=True)
            wheel = runner_wheel_with(project, source_wheel, work / "wheel")
            print(f"wheel {wheel.name}", flush=True)
        shutil.rmtree(out, ignore_errors=True)
        work.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="directory to (re)write")
    parser.add_argument(
        "--runner-wheel-dir",
        type=Path,
        help="also build a dbt-runner wheel carrying the project, from the wheel in this "
        "directory (dist/dbt/runner/unversioned)",
    )
    args = parser.parse_args(argv)
    source = one_wheel(args.runner_wheel_dir) if args.runner_wheel_dir else None
    build(args.models, args.out, source)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
