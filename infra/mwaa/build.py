"""Write an MWAA bundle: dags/, plugins.zip, requirements.txt, startup.sh, MANIFEST.json.

    python -m mwaa.build --environment test --out OUT_DIR --dags-dir airflow/dags \
        --wheel dist/dataplatform-0.1.0-py3-none-any.whl \
        --resolve-pins 3rdparty/python/airflow.txt [--airflow-constraints PATH_OR_URL] \
        [--essential-constraints PATH_OR_URL] [--extra-file SRC=DEST ...] [--plugin PATH ...] \
        [--private-network --locked-wheels DIR]

Inputs are plain paths so Pants can run it in a sandbox. The same inputs give the same bytes.
The bundle is written next to OUT_DIR and renamed into place, so OUT_DIR is never half-written.

Project wheels are named in requirements.txt by their path inside plugins.zip
(`name @ file:///usr/local/airflow/plugins/...`), so pip never looks a same-named package up on
an index. With --private-network (MWAA without internet access), plugins.zip also carries every
wheel of --locked-wheels (the resolve's locked wheels for MWAA's platform) and Airflow's
constraints file, and requirements.txt installs with `--no-index` from plugins.zip only.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.requirements import Requirement
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)

from mwaa import (
    AIRFLOW_CONSTRAINTS_URL,
    AIRFLOW_VERSION,
    MWAA_PLUGINS_DIR,
    PYTHON_VERSION,
    default_constraints,
    startup,
)
from mwaa.artifacts import FILE_MODE, SCRIPT_MODE, write_manifest, write_zip
from mwaa.inputs import (
    InputError,
    existing_dir,
    existing_file,
    parse_pins,
    pinned_version,
    read_pins,
    read_text,
    run_cli,
)

# Airflow's constraints inside a private-network plugins.zip (MWAA cannot fetch the URL there).
PRIVATE_CONSTRAINTS_NAME = f"constraints-{PYTHON_VERSION}.txt"
# Build droppings that must not make two builds of the same sources differ.
IGNORED_DIRS = {"__pycache__"}


@dataclass(frozen=True)
class ProjectWheel:
    path: Path
    name: NormalizedName
    version: str


def project_wheel(path: str) -> ProjectWheel:
    wheel = existing_file(path, "--wheel")
    try:
        name, version, _, _ = parse_wheel_filename(wheel.name)
    except InvalidWheelFilename as error:
        raise InputError(f"--wheel {path!r}: {error}") from error
    if not zipfile.is_zipfile(wheel):
        raise InputError(f"--wheel {path!r} is not a zip archive")
    return ProjectWheel(wheel, name, str(version))


def direct_names(pins_text: str) -> set[NormalizedName] | None:
    """Names the resolve requires directly (uv's ``# via -r <file>.in``); None if unannotated."""
    direct: set[NormalizedName] = set()
    annotated = False
    current: NormalizedName | None = None
    for line in pins_text.splitlines():
        if line and not line[0].isspace() and not line.startswith(("#", "-")):
            current = canonicalize_name(Requirement(line.split(" #")[0]).name)
            continue
        via = line.strip().removeprefix("#").strip()
        annotated = annotated or via.startswith("via")
        if current and via.removeprefix("via").strip().startswith("-r "):
            direct.add(current)
    return direct if annotated else None


def requirement_lines(
    resolve_pins: dict[NormalizedName, Requirement],
    direct: set[NormalizedName] | None,
    airflow_pins: dict[NormalizedName, Requirement],
    essential_pins: dict[NormalizedName, Requirement],
    wheels: Iterable[ProjectWheel],
    private_network: bool = False,
) -> list[str]:
    """The pins MWAA needs named, then the project wheels by name==version.

    MWAA's image already holds what the essential constraints pin. A pin the Airflow
    constraints fix at the same version only needs naming when the project requires it
    directly (MWAA's image has the Amazon provider but not, say, the Databricks one);
    otherwise pip picks that version through the ``--constraint`` line anyway. A pin that
    MWAA's constraints fix at another version could never install there, so it stops the build
    instead of failing on every worker start.
    """
    lines = []
    for name, req in sorted(resolve_pins.items()):
        fixed = essential_pins.get(name) or airflow_pins.get(name)
        if fixed is not None and pinned_version(fixed) != pinned_version(req):
            raise InputError(
                f"--resolve-pins pins {req} but MWAA's constraints fix {fixed}: "
                f"recompile the resolve against the Airflow {AIRFLOW_VERSION} constraints"
            )
        if name in essential_pins:
            continue
        if fixed is None or direct is None or name in direct:
            lines.append(str(req))
    for wheel in sorted(wheels, key=lambda w: w.name):
        if wheel.name in resolve_pins or wheel.name in airflow_pins:
            raise InputError(f"--wheel {wheel.path.name}: {wheel.name} is also pinned elsewhere")
        lines.append(f"{wheel.name} @ file://{MWAA_PLUGINS_DIR}/{wheel.path.name}")
    if private_network:
        return [
            "--no-index",
            f"--find-links {MWAA_PLUGINS_DIR}",
            f"--constraint {MWAA_PLUGINS_DIR}/{PRIVATE_CONSTRAINTS_NAME}",
            *lines,
        ]
    return [
        f'--constraint "{AIRFLOW_CONSTRAINTS_URL}"',
        f"--find-links {MWAA_PLUGINS_DIR}",
        *lines,
    ]


def locked_wheels(folder: str, needed: Iterable[Requirement]) -> dict[str, bytes]:
    """The wheels of ``folder`` (file name -> bytes), refused unless every pin has its wheel."""
    wheels = {p.name: p for p in existing_dir(folder, "--locked-wheels").glob("*.whl")}
    available = set()
    for name in wheels:
        try:
            project, version, _, _ = parse_wheel_filename(name)
        except InvalidWheelFilename as error:
            raise InputError(f"--locked-wheels {folder}: {error}") from error
        available.add((project, str(version)))
    missing = sorted(
        str(req) for req in needed
        if (canonicalize_name(req.name), pinned_version(req)) not in available
    )
    if missing:
        raise InputError(f"--locked-wheels {folder} lacks wheels for {', '.join(missing)}: "
                         "MWAA without internet access could not install them")
    return {name: path.read_bytes() for name, path in sorted(wheels.items())}


def dags_files(dags_dir: Path, extra_files: list[str]) -> dict[str, Path]:
    """dags/ content: relative path -> source file; extra files go where the DAGs read them."""
    files = {
        p.relative_to(dags_dir).as_posix(): p
        for p in dags_dir.rglob("*")
        if p.is_file() and not IGNORED_DIRS.intersection(p.relative_to(dags_dir).parts)
    }
    for spec in extra_files:
        source, sep, dest = spec.partition("=")
        target = PurePosixPath(dest)
        if not sep or not dest or target.is_absolute() or ".." in target.parts:
            raise InputError(f"--extra-file {spec!r} must be SRC=DEST with DEST inside dags/")
        if target.as_posix() in files:
            raise InputError(f"--extra-file {spec!r}: dags/{dest} already exists")
        files[target.as_posix()] = existing_file(source, "--extra-file")
    return files


def plugin_members(wheels: Iterable[ProjectWheel], plugins: list[str]) -> dict[str, bytes]:
    """plugins.zip content: wheels at the root (MWAA's --find-links dir), plugin modules beside."""
    members = {w.path.name: w.path.read_bytes() for w in wheels}
    for spec in plugins:
        path = Path(spec)
        if path.is_file():
            members[path.name] = path.read_bytes()
        elif path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                relative = file.relative_to(path.parent)
                if not IGNORED_DIRS.intersection(relative.parts):
                    members[relative.as_posix()] = file.read_bytes()
        else:
            raise InputError(f"--plugin {spec!r} is neither a file nor a directory")
    return members


def write_bundle(staging: Path, args: argparse.Namespace) -> None:
    wheels = [project_wheel(w) for w in args.wheel]
    dags = dags_files(existing_dir(args.dags_dir, "--dags-dir"), args.extra_file)
    pins_text = read_text(args.resolve_pins, "--resolve-pins")
    resolve_pins = parse_pins(pins_text, f"--resolve-pins {args.resolve_pins}")
    airflow_pins = read_pins(args.airflow_constraints, "--airflow-constraints")
    essential_pins = read_pins(args.essential_constraints, "--essential-constraints")
    try:
        startup_text = startup.render(args.environment)
    except ValueError as error:
        raise InputError(f"--environment: {error}") from error

    for relative, source in sorted(dags.items()):
        target = staging / "dags" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
    direct = direct_names(pins_text)
    lines = requirement_lines(resolve_pins, direct, airflow_pins, essential_pins, wheels,
                              args.private_network)
    members = plugin_members(wheels, args.plugin)
    if args.private_network:
        named = [Requirement(line) for line in lines if "==" in line and " @ " not in line]
        members |= locked_wheels(args.locked_wheels, named)
        members[PRIVATE_CONSTRAINTS_NAME] = read_text(
            args.airflow_constraints, "--airflow-constraints"
        ).encode()
    write_zip(staging / "plugins.zip", members)
    (staging / "requirements.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (staging / "startup.sh").write_text(startup_text, encoding="utf-8")
    header = {
        "environment": args.environment,
        "airflow_version": AIRFLOW_VERSION,
        "python_version": PYTHON_VERSION,
        "project_wheels": sorted(w.path.name for w in wheels),
        "private_network": args.private_network,
    }
    write_manifest(staging, header)
    fix_modes(staging)


def fix_modes(root: Path) -> None:
    """Same modes whatever the umask: directories and startup.sh 0755, other files 0644."""
    root.chmod(SCRIPT_MODE)
    for path in root.rglob("*"):
        executable = path.is_dir() or path == root / "startup.sh"
        path.chmod(SCRIPT_MODE if executable else FILE_MODE)


def replace_dir(staging: Path, out: Path) -> None:
    """Move the finished bundle to ``out``, replacing any previous one."""
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m mwaa.build", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--environment", required=True, help="dataplatform environment, e.g. test")
    parser.add_argument("--out", required=True, type=Path, help="bundle directory to (re)write")
    parser.add_argument("--dags-dir", required=True, help="the DAG files tree")
    parser.add_argument("--wheel", action="append", default=[], help="a project wheel (repeat)")
    parser.add_argument("--resolve-pins", required=True, help="uv-compiled pins, e.g. airflow.txt")
    airflow_constraints, essential_constraints = default_constraints()
    parser.add_argument(
        "--airflow-constraints", default=airflow_constraints,
        help="path or URL of Airflow's constraints (default: the pinned copy %(default)s)",
    )
    parser.add_argument(
        "--essential-constraints", default=essential_constraints,
        help="path or URL of MWAA's mwaa_essential_constraints.txt (default: %(default)s)",
    )
    parser.add_argument(
        "--extra-file",
        action="append",
        default=[],
        metavar="SRC=DEST",
        help="copy SRC to dags/DEST (dbt manifest, config read by the DAGs)",
    )
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="PATH",
        help="a custom plugin module or package to put at the root of plugins.zip",
    )
    parser.add_argument(
        "--private-network", action="store_true",
        help="MWAA without internet access: ship every locked wheel, install with --no-index",
    )
    parser.add_argument("--locked-wheels", metavar="DIR",
                        help="the resolve's wheels for MWAA's platform (with --private-network)")
    args = parser.parse_args(argv)
    if args.private_network and not args.locked_wheels:
        parser.error("--private-network needs --locked-wheels DIR")
    return args


def build(args: argparse.Namespace, gate: Callable[[Path], None] | None = None) -> int:
    """Write the bundle to a staging folder, run ``gate`` on it (raising refuses the bundle),
    then move it to --out."""
    out: Path = args.out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        write_bundle(staging, args)
        if gate is not None:
            gate(staging)
        replace_dir(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"wrote MWAA bundle for {args.environment} to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return build(parse_args(argv))


if __name__ == "__main__":
    run_cli(main)
