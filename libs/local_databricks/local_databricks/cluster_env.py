"""The Python environment of an emulated cluster: its runtime's interpreter, the libraries a
Databricks Runtime ships, and the isolated environment variables task processes get.

Each cluster of a run gets its own virtualenv (libraries install into it, as on a fresh
Databricks cluster) layered over a shared, read-only "runtime base" holding what the runtime
preinstalls (pyspark client, pandas, pyarrow, deltalake, databricks-sdk):

- for the emulator's own Python version the base is the emulator's own site-packages (nothing
  is downloaded);
- for another version (3.11 for 15.4 LTS) the base is built once with uv from the package index
  into the machine's cache, pinned to the versions the emulator itself runs.

The layering is a .pth line plus a copy of each base distribution's metadata in the cluster env,
so installers see the runtime's packages as installed (a wheel needing pandas keeps the
runtime's pandas, as pip does on a cluster) while a library that needs another version installs
its own copy over it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_databricks.errors import ApiError
from local_databricks.layout import StateLayout
from local_databricks.runtimes import RUNTIMES, Runtime, runtime_for
from local_databricks.secrets import SecretStore

# What a Databricks Runtime preinstalls that task code of this project relies on.
RUNTIME_PACKAGES = ("pyspark-client", "pandas", "pyarrow", "deltalake", "databricks-sdk")
_BASE_PTH = "_databricks_runtime_base.pth"
_base_lock = threading.Lock()


class ClusterEnvError(RuntimeError):
    """The cluster's environment cannot be prepared (e.g. its Python is not installed)."""


def serverless_runtime() -> Runtime:
    """Serverless compute runs the newest LTS runtime's Python."""
    return max(RUNTIMES.values(), key=lambda r: tuple(int(p) for p in r.key.split(".")[:2]))


def cache_root() -> Path:
    """Machine-wide cache of runtime bases and uv downloads, shared by every state dir."""
    configured = os.environ.get("LOCAL_DATABRICKS_CACHE")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "local-databricks"


def uv_cache_dir() -> Path:
    configured = os.environ.get("UV_CACHE_DIR")
    return Path(configured) if configured else cache_root() / "uv"


def uv_binary() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


def uv_env() -> dict[str, str]:
    """Environment of uv commands: the emulator's (network settings), no Python downloads."""
    return os.environ | {
        "UV_CACHE_DIR": str(uv_cache_dir()),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_CONFIG": "1",
        "UV_NO_PROGRESS": "1",
    }


def run_uv(args: list[str], log_path: Path) -> subprocess.CompletedProcess[str]:
    """Run uv, appending its command and output to the cluster log."""
    result = subprocess.run(
        [uv_binary(), *args], capture_output=True, text=True, env=uv_env(), check=False
    )
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"$ uv {' '.join(args)}\n{result.stdout}{result.stderr}")
    return result


def find_python(runtime: Runtime) -> Path:
    """The interpreter of a runtime's Python version: the emulator's own, pyenv's, or on PATH."""
    version = runtime.python
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return Path(sys.executable)
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = sorted(
        pyenv_root.glob(f"versions/{version}.*/bin/python{version}"),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p.parts[-3])],
        reverse=True,
    )
    on_path = shutil.which(f"python{version}")
    if on_path and "shims" not in Path(on_path).parts:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ClusterEnvError(
        f"Databricks Runtime {runtime.name} runs Python {version}, and no Python {version} "
        f"interpreter was found (looked in {pyenv_root}/versions and on PATH). Install it, e.g. "
        f"`pyenv install {version}` or `uv python install {version}`, or use a spark_version "
        f"whose Python is {sys.version_info.major}.{sys.version_info.minor}."
    )


def _site_packages(env_dir: Path, python: str) -> Path:
    return env_dir / "lib" / f"python{python}" / "site-packages"


def _own_site_dirs() -> list[Path]:
    """The emulator's own package directories (a venv's site-packages, or a PEX's wheels)."""
    paths = sysconfig.get_paths()
    stdlib = {Path(paths[k]).resolve() for k in ("stdlib", "platstdlib")}
    dirs = []
    for entry in filter(None, sys.path):
        path = Path(entry).resolve()
        if path.is_dir() and path not in stdlib and path.name != "lib-dynload" and path not in dirs:
            dirs.append(path)
    return dirs


def runtime_base(runtime: Runtime, log_path: Path) -> list[Path]:
    """The directories holding the runtime's preinstalled packages for its Python."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == runtime.python:
        return _own_site_dirs()
    try:
        pins = sorted(f"{name}=={importlib.metadata.version(name)}" for name in RUNTIME_PACKAGES)
    except importlib.metadata.PackageNotFoundError as missing:
        raise ClusterEnvError(
            f"The emulator's own environment lacks {missing.name}, one of the runtime packages "
            f"({', '.join(RUNTIME_PACKAGES)}) it pins for Python {runtime.python} clusters"
        ) from None
    digest = hashlib.sha256("\n".join(pins).encode()).hexdigest()[:12]
    base_dir = cache_root() / "runtime-bases" / f"python{runtime.python}-{digest}"
    site = _site_packages(base_dir, runtime.python)
    with _base_lock:
        if site.is_dir():
            return [site]
        python = find_python(runtime)
        base_dir.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f"{base_dir.name}.", dir=base_dir.parent))
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(
                f"Building the Python {runtime.python} runtime base ({', '.join(pins)}) "
                f"into {base_dir}; later clusters reuse it\n"
            )
        try:
            for args in (
                ["venv", "--quiet", "--python", str(python), str(building)],
                ["pip", "install", "--python", str(building / "bin" / "python"), *pins],
            ):
                result = run_uv(args, log_path)
                if result.returncode:
                    raise ClusterEnvError(
                        f"Could not build the Python {runtime.python} runtime base for "
                        f"{runtime.name}: {result.stderr.strip()[-1500:]}"
                    )
            try:
                building.rename(base_dir)
            except OSError:  # another emulator process built it first
                if not site.is_dir():
                    raise
                shutil.rmtree(building)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
    return [site]


@dataclass(frozen=True)
class ClusterEnv:
    """One cluster's virtualenv and the variables its task processes see."""

    runtime: Runtime
    env_dir: Path
    env_vars: dict[str, str]
    spark_conf: dict[str, str]

    @property
    def python(self) -> Path:
        return self.env_dir / "bin" / "python"

    @property
    def site_packages(self) -> Path:
        return _site_packages(self.env_dir, self.runtime.python)


def create_cluster_env(
    layout: StateLayout,
    cluster: dict[str, Any] | None,
    env_dir: Path,
    log_path: Path,
) -> ClusterEnv:
    """A fresh virtualenv for one cluster, layered over its runtime's base.

    `cluster` is the cluster spec (new_cluster); None means serverless compute.
    """
    cluster = cluster or {}
    runtime = (
        runtime_for(cluster["spark_version"], "new_cluster.spark_version")
        if "spark_version" in cluster
        else serverless_runtime()
    )
    env_vars = {
        key: resolve_secret_references(layout, str(value), f"spark_env_vars.{key}")
        for key, value in (cluster.get("spark_env_vars") or {}).items()
    }
    spark_conf = {
        key: resolve_secret_references(layout, str(value), f"spark_conf.{key}")
        for key, value in (cluster.get("spark_conf") or {}).items()
    }
    base = runtime_base(runtime, log_path)
    python = find_python(runtime)
    result = run_uv(["venv", "--quiet", "--python", str(python), str(env_dir)], log_path)
    if result.returncode:
        raise ClusterEnvError(f"Could not create the cluster's Python env: {result.stderr}")
    env = ClusterEnv(runtime, env_dir, env_vars, spark_conf)
    _layer_base(env.site_packages, base)
    return env


def _layer_base(site: Path, base: list[Path]) -> None:
    """Put the base on the env's path, and its distributions' metadata where installers look."""
    (site / _BASE_PTH).write_text("".join(f"{directory}\n" for directory in base))
    for dist_info in (d for directory in base for d in directory.glob("*.dist-info")):
        target = site / dist_info.name
        if target.exists():
            continue
        target.mkdir()
        for name in ("METADATA", "entry_points.txt"):
            if (dist_info / name).is_file():
                shutil.copyfile(dist_info / name, target / name)
        (target / "INSTALLER").write_text("databricks-runtime\n")
        # RECORD lists only the metadata copy, so replacing the package removes nothing of
        # the shared base.
        files = [f"{dist_info.name}/{p.name}" for p in target.iterdir()]
        files.append(f"{dist_info.name}/RECORD")
        (target / "RECORD").write_text("".join(f"{f},,\n" for f in files))


def resolve_secret_references(layout: StateLayout, text: str, where: str) -> str:
    """Replace {{secrets/<scope>/<key>}} in a cluster setting with the secret's value; a missing
    secret fails the cluster start naming the setting, as on Databricks."""
    try:
        return SecretStore(layout).resolve_references(text, where)
    except ApiError as error:
        raise ClusterEnvError(error.message) from None


def runner_pythonpath(layout: StateLayout) -> str:
    """A copy of the emulator's task-runner package, the one thing a task process imports
    from the emulator (not its site-packages, which are built for the emulator's Python).
    Keyed by the package's content, so a state dir reused by a newer emulator gets a new copy."""
    package = Path(__file__).resolve().parent
    sources = sorted(package.glob("*.py"))
    digest = hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in sources))
    root = layout.root / "runtime" / f"runner-{digest.hexdigest()[:12]}"
    target = root / package.name
    if not target.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="staging.", dir=root))
        for source in sources:
            (staging / source.name).write_bytes(source.read_bytes())
        try:
            staging.rename(target)
        except OSError:  # another cluster copied it first
            shutil.rmtree(staging, ignore_errors=True)
    return str(root)


def task_environment(
    layout: StateLayout, env: ClusterEnv, spark_remote: str
) -> dict[str, str]:
    """What a Databricks driver's Python process sees: no variable of the emulator's host."""
    version = env.runtime.key.split(".x")[0]
    return {
        "PATH": os.pathsep.join([str(env.env_dir / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(layout.driver_home),
        "LANG": "C.UTF-8",
        "TZ": "Etc/UTC",
        "PYTHONPATH": runner_pythonpath(layout),
        "PYTHONUNBUFFERED": "1",
        "DATABRICKS_RUNTIME_VERSION": version,
        "SPARK_REMOTE": spark_remote,
        **env.env_vars,
    }
