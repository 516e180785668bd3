"""Installs a task's libraries on its cluster, as Databricks does before the task starts.

Each library is one `uv pip install` into the cluster's env (whose Python is the runtime's), so
a wheel's metadata is respected (Requires-Python, platform tags, Requires-Dist from the index)
and a failure names the library. uv's cache is shared by every cluster, and an install first
tries to resolve from that cache alone (`--offline`): a repeated install neither downloads nor
revalidates index pages. Only what the cache cannot satisfy goes to the index, so an unpinned
requirement keeps the version first installed until the cache is cleared. Installs compile the
packages' bytecode, as pip does on a cluster (uv does not by default): otherwise every task
process that imports them, dbt's hundreds of modules, compiles them again until one writes the
.pyc files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from local_databricks.cluster_env import ClusterEnv, run_uv
from local_databricks.layout import StateLayout

# Library kinds a Python task can use here; jar, maven, cran and egg need a JVM/R/easy_install.
PYTHON_KINDS = ("whl", "pypi", "requirements")


class LibraryInstallError(RuntimeError):
    """A library failed to install; the message is the one Databricks gives."""


def library_id(library: dict[str, Any]) -> str:
    """A stable key of one library spec (the same library on two tasks installs once)."""
    return json.dumps(library, sort_keys=True)


def describe(library: dict[str, Any]) -> str:
    """The library as Databricks names it in a failure: `whl: "dbfs:/x.whl"`, `pypi { ... }`."""
    if "pypi" in library:
        fields = "".join(f'  {k}: "{v}"\n' for k, v in library["pypi"].items())
        return f"pypi {{\n{fields}}}"
    kind = next(iter(library), "library")
    return f'{kind}: "{library.get(kind)}"'


def _failure(library: dict[str, Any], cluster_name: str, error: str) -> LibraryInstallError:
    return LibraryInstallError(
        f"Library installation failed for library due to user error for {describe(library)}\n"
        f" Error messages:\nLibrary installation attempted on the driver node of cluster "
        f"{cluster_name} and failed. Please refer to the following error message to fix the "
        f"library or contact Databricks support. Error Code: DRIVER_LIBRARY_INSTALLATION_FAILURE."
        f" Error Message: {error.strip()}"
    )


def _install_args(layout: StateLayout, library: dict[str, Any]) -> list[str]:
    """The `uv pip install` arguments of one library; ValueError when it cannot be installed."""
    kind = next((k for k in PYTHON_KINDS if k in library), None)
    if kind is None:
        raise ValueError(
            f"library type {', '.join(library) or 'none'} is not supported by the local emulator "
            f"(it runs Python tasks only); use one of {', '.join(PYTHON_KINDS)}"
        )
    if kind == "pypi":
        spec = library["pypi"]
        if not spec.get("package"):
            raise ValueError("pypi library needs a package")
        repo = ["--index-url", spec["repo"]] if spec.get("repo") else []
        return [spec["package"], *repo]
    local = layout.resolve(library[kind])
    if not local.is_file():
        raise ValueError(f"{library[kind]} does not exist (looked at {local}); upload it first")
    if kind == "requirements":
        return ["--requirement", str(local)]
    return [str(local)]


def install_library(
    layout: StateLayout, env: ClusterEnv, library: dict[str, Any], cluster_name: str, log_path: Path
) -> None:
    """Install one library into the cluster's env, or raise LibraryInstallError naming it."""
    try:
        args = _install_args(layout, library)
    except ValueError as error:
        raise _failure(library, cluster_name, str(error)) from None
    command = ["pip", "install", "--compile-bytecode", "--python", str(env.python), *args]
    result = run_uv([*command, "--offline"], log_path)
    if result.returncode:
        result = run_uv(command, log_path)
    if result.returncode:
        raise _failure(library, cluster_name, result.stderr[-4000:])
