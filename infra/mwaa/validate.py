"""Prove an MWAA bundle installs and parses as it would on MWAA (Airflow 3.3.1, Python 3.12).

    python -m mwaa.validate OUT_DIR [--airflow-constraints PATH_OR_URL] \
        [--essential-constraints PATH_OR_URL] [--wheels DIR] [--work-dir DIR]

1. resolve requirements.txt with MWAA's constraints and plugins.zip's wheels, for Linux x86_64
   wheels only (MWAA installs with pip on every start, within 9 minutes: no builds). A
   private-network bundle (`--no-index` in requirements.txt) and --wheels DIR resolve with the
   index unreachable: uv runs --offline, from plugins.zip (and DIR) only;
2. build a clean venv of exactly that resolution (kept in --work-dir, keyed by its content, so a
   rerun after a DAG fix reuses it);
3. load dags/ with Airflow's DagBag in that venv, after sourcing startup.sh as MWAA does.
Exit 0 when all pass, 1 naming the failing package or DAG file, 2 on a missing input.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uv as uv_package
from uv import find_uv_bin

from mwaa import (
    AIRFLOW_CONSTRAINTS_URL,
    AIRFLOW_VERSION,
    MWAA_PLUGINS_DIR,
    PYTHON_VERSION,
    default_constraints,
)
from mwaa.artifacts import MANIFEST_NAME, manifest_mismatches
from mwaa.inputs import InputError, existing_dir, existing_file, read_text, run_cli
from mwaa.startup import run_sandboxed

# Amazon Linux 2023 has glibc 2.34; uv then accepts exactly the wheels pip accepts there.
PYTHON_PLATFORM = "x86_64-manylinux_2_34"
BUNDLE_FILES = ("requirements.txt", "plugins.zip", "startup.sh", MANIFEST_NAME)

# Runs inside the bundle's venv: MWAA's parse of the DAGs folder, reported as JSON.
DAGBAG_PROBE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({"dags": sorted(bag.dag_ids), "errors": bag.import_errors}))
"""


class ValidationError(Exception):
    """The bundle would fail on MWAA; the message says where."""


@contextmanager
def step(title: str) -> Iterator[None]:
    print(f"==> {title}", flush=True)
    start = time.monotonic()
    yield
    print(f"    ok ({time.monotonic() - start:.1f} s)", flush=True)


def uv_binary() -> str:
    """uv's binary: where pip installs it, or inside a zipapp PEX's copy of the wheel
    (`.prefix/bin/uv` beside the package), as when Pants runs the build."""
    try:
        return find_uv_bin()
    except FileNotFoundError:
        beside = Path(uv_package.__file__).parents[1] / ".prefix" / "bin" / "uv"
        if beside.is_file():
            return str(beside)
        raise


def uv(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"UV_CACHE_DIR": str(cache)}
    return subprocess.run([uv_binary(), *args], capture_output=True, text=True, check=False,
                          env=env)


def uv_cache_for(work: Path) -> Path:
    """The user's uv cache, else one inside the work dir: a sandboxed build has no HOME, and a
    shared fallback grows by a copy of every plugins.zip wheel per run (its paths change)."""
    return Path(os.environ.get("UV_CACHE_DIR") or work / "uv-cache")


def offline_args(sources: list[Path]) -> list[str]:
    """uv arguments that forbid any network access and name the only wheel folders to use."""
    return ["--offline", "--no-index", *(a for d in sources for a in ("--find-links", str(d)))]


def python312(cache: Path) -> str:
    """A CPython 3.12: pyenv's, then PATH's, then one uv knows about."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    pyenv = sorted((pyenv_root / "versions").glob(f"{PYTHON_VERSION}.*/bin/python3.12"))
    if pyenv:
        return str(pyenv[-1])
    on_path = shutil.which(f"python{PYTHON_VERSION}")
    if on_path:
        return on_path
    found = uv("python", "find", PYTHON_VERSION, cache=cache)
    if found.returncode == 0:
        return found.stdout.strip()
    raise InputError(
        f"no Python {PYTHON_VERSION} found (pyenv, PATH, uv): install one, e.g. "
        f"`uv python install {PYTHON_VERSION}`"
    )


def local_copy(path_or_url: str, what: str, target: Path) -> Path:
    target.write_text(read_text(path_or_url, what), encoding="utf-8")
    return target


def mwaa_requirements(bundle: Path, plugins: Path, target: Path) -> bool:
    """Write requirements.txt with MWAA's paths replaced by local ones, plus the Airflow MWAA
    runs, to ``target``; return whether the bundle installs without an index.

    A constraints URL must be the one this validator checks against (the local copy is passed to
    uv instead); a constraints file inside plugins.zip is used from the unzipped copy. MWAA's
    image also holds the Amazon provider and Celery: they are left out, so a DAG that needs them
    without naming them fails here (stricter than MWAA).
    """
    lines = [f"apache-airflow=={AIRFLOW_VERSION}"]
    private_network = False
    local = lambda value: value.replace(MWAA_PLUGINS_DIR, str(plugins))  # noqa: E731
    for line in (bundle / "requirements.txt").read_text(encoding="utf-8").splitlines():
        option, _, value = line.strip().partition(" ")
        value = value.strip().strip("\"'")
        if option in ("-c", "--constraint") and value.startswith(f"{MWAA_PLUGINS_DIR}/"):
            lines.append(f"--constraint {local(value)}")
        elif option in ("-c", "--constraint"):
            if value != AIRFLOW_CONSTRAINTS_URL:
                raise ValidationError(
                    f"requirements.txt constrains with {value} but MWAA {AIRFLOW_VERSION} "
                    f"needs {AIRFLOW_CONSTRAINTS_URL}"
                )
        elif option == "--no-index":
            private_network = True
        elif option in ("-f", "--find-links") and value == MWAA_PLUGINS_DIR:
            lines.append(f"--find-links {plugins}")
        else:
            lines.append(local(line))
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return private_network


def resolve(requirements: Path, constraints: list[Path], sources: list[str], lock: Path,
            cache: Path) -> None:
    result = uv(
        "pip", "compile", str(requirements), "--output-file", str(lock),
        *(arg for c in constraints for arg in ("--constraint", str(c))),
        *sources, "--only-binary", ":all:",
        "--python-version", PYTHON_VERSION, "--python-platform", PYTHON_PLATFORM,
        "--no-header", "--quiet", cache=cache,
    )  # fmt: skip
    if result.returncode != 0:
        raise ValidationError(
            "requirements.txt cannot be installed on MWAA (Python "
            f"{PYTHON_VERSION}, {PYTHON_PLATFORM}, wheels only, MWAA's constraints):\n"
            + result.stderr.strip()
        )


def venv_for(lock: Path, plugins: Path, sources: list[str], work: Path, cache: Path) -> Path:
    """A venv holding exactly ``lock`` (+ the plugin wheels); reused when both are unchanged."""
    key = hashlib.sha256(lock.read_bytes())
    for wheel in sorted(plugins.glob("*.whl")):
        key.update(wheel.name.encode() + wheel.read_bytes())
    venv = work / f"venv-{key.hexdigest()[:16]}"
    if (venv / "bin" / "python").exists():
        print(f"    reusing {venv}")
        return venv
    building = Path(tempfile.mkdtemp(prefix=".venv-", dir=work))
    try:
        for args in (
            ("venv", "--quiet", "--relocatable", "--python", python312(cache), str(building)),
            ("pip", "sync", "--quiet", "--python", str(building / "bin" / "python"),
             *sources, "--only-binary", ":all:", str(lock)),
        ):  # fmt: skip
            result = uv(*args, cache=cache)
            if result.returncode != 0:
                raise ValidationError(f"uv {args[0]} failed:\n{result.stderr.strip()}")
        building.rename(venv)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return venv


def load_dags(bundle: Path, venv: Path, plugins: Path, work: Path) -> list[str]:
    """Parse dags/ with the bundle's startup.sh environment, as an MWAA scheduler does."""
    exported = run_sandboxed(bundle / "startup.sh", "scheduler").exported
    home = Path(tempfile.mkdtemp(prefix="airflow-home-", dir=work))
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(bundle / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONDONTWRITEBYTECODE": "1",  # leave the bundle as built
        **exported,
    }
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", DAGBAG_PROBE, str(bundle / "dags")],
        env=env, capture_output=True, text=True, check=False, cwd=home,
    )  # fmt: skip
    shutil.rmtree(home, ignore_errors=True)
    if result.returncode != 0:
        raise ValidationError(f"loading the DAGs crashed:\n{result.stderr.strip()[-4000:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    if report["errors"]:
        details = "\n".join(f"--- {file}\n{error}" for file, error in report["errors"].items())
        raise ValidationError(f"{len(report['errors'])} DAG file(s) fail to import:\n{details}")
    if not report["dags"]:
        raise ValidationError(f"no DAGs found in {bundle / 'dags'}")
    return report["dags"]


def validate(bundle: Path, work: Path, airflow_constraints: str, essential_constraints: str,
             wheels: Path | None = None) -> list[str]:
    """Raise ValidationError unless the bundle installs and loads as on MWAA; return its DAG ids.

    ``wheels``: resolve from this folder (and plugins.zip) only, with no index, e.g. the locked
    wheels of the resolve in a hermetic build.
    """
    bundle = existing_dir(bundle, "bundle").resolve()
    for name in BUNDLE_FILES:
        existing_file(bundle / name, "bundle file")
    existing_dir(bundle / "dags", "bundle dags directory")
    constraints = [
        local_copy(airflow_constraints, "--airflow-constraints", work / "airflow.txt"),
        local_copy(essential_constraints, "--essential-constraints", work / "essential.txt"),
    ]
    plugins = work / "plugins"
    with step("check files against MANIFEST.json"):
        changed = manifest_mismatches(bundle)
        if changed:
            raise ValidationError(f"files differ from {MANIFEST_NAME}: {', '.join(changed)}")
    with step(f"unzip plugins.zip as MWAA does ({MWAA_PLUGINS_DIR})"):
        shutil.rmtree(plugins, ignore_errors=True)
        plugins.mkdir()  # even when plugins.zip is empty
        with zipfile.ZipFile(bundle / "plugins.zip") as archive:
            archive.extractall(plugins)
    requirements = work / "requirements.in"
    private_network = mwaa_requirements(bundle, plugins, requirements)
    if private_network:
        sources = offline_args([plugins])
        where = "plugins.zip only, index unreachable"
    elif wheels is not None:
        sources = offline_args([plugins, existing_dir(wheels, "--wheels").resolve()])
        where = f"plugins.zip and {wheels} only, index unreachable"
    else:
        sources = ["--find-links", str(plugins)]
        where = "plugins.zip and the package index"
    lock = work / "resolved.txt"
    cache = uv_cache_for(work)
    with step(f"resolve requirements.txt for Python {PYTHON_VERSION} / {PYTHON_PLATFORM} "
              f"({where})"):
        resolve(requirements, constraints, sources, lock, cache)
        print(f"    {sum(1 for line in lock.read_text().splitlines() if '==' in line)} packages")
    with step("build a clean venv from exactly that resolution"):
        venv = venv_for(lock, plugins, sources, work, cache)
    with step("load dags/ with Airflow's DagBag"):
        dags = load_dags(bundle, venv, plugins, work)
        print(f"    {len(dags)} DAG(s): {', '.join(dags)}")
    return dags


def validate_in(bundle: Path, work_dir: Path | None, airflow_constraints: str,
                essential_constraints: str, wheels: Path | None = None) -> None:
    """validate() in ``work_dir`` (kept, so venvs are reused) or in a temporary folder."""
    work = work_dir or Path(tempfile.mkdtemp(prefix="mwaa-validate-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        validate(bundle, work.resolve(), airflow_constraints, essential_constraints, wheels)
    finally:
        if work_dir is None:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mwaa.validate", description=__doc__)
    parser.add_argument("bundle", help="the directory mwaa.build wrote")
    airflow_constraints, essential_constraints = default_constraints()
    parser.add_argument("--airflow-constraints", default=airflow_constraints,
                        help="path or URL (default: %(default)s)")
    parser.add_argument("--essential-constraints", default=essential_constraints,
                        help="path or URL (default: %(default)s)")
    parser.add_argument("--wheels", type=Path,
                        help="resolve from these wheels (and plugins.zip) only, index unreachable")
    parser.add_argument("--work-dir", type=Path, help="keep resolutions and venvs here")
    args = parser.parse_args(argv)
    try:
        validate_in(Path(args.bundle), args.work_dir, airflow_constraints=args.airflow_constraints,
                    essential_constraints=args.essential_constraints, wheels=args.wheels)
    except ValidationError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    print("bundle is valid for MWAA")
    return 0


if __name__ == "__main__":
    run_cli(main)
