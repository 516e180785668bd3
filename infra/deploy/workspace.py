"""Publish notebooks and wheels to a Databricks workspace with databricks-sdk.

The same code serves the local emulator and real workspaces: the DAGs read notebooks and
wheels from the workspace directories their environment's config names.

    python -m deploy.workspace [--profile NAME] [--notebooks DIR --notebook-dir REMOTE] \
        [--wheels DIR --wheel-dir REMOTE]

The CLI takes the remote directories as arguments (the environment config lives in the airflow
resolve); host and token come from DATABRICKS_HOST / DATABRICKS_TOKEN or a configuration profile.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterable
from pathlib import Path

from databricks.sdk import WorkspaceClient
from databricks.sdk.service.workspace import ImportFormat, Language

NOTEBOOK_HEADER = "# Databricks notebook source"


def publish_notebooks(
    client: WorkspaceClient, notebooks: Iterable[Path], remote_dir: str
) -> list[str]:
    """Import SOURCE-format notebooks as `<remote_dir>/<file stem>`, replacing older versions."""
    client.workspace.mkdirs(remote_dir)
    published = []
    for notebook in sorted(notebooks):
        source = notebook.read_text()
        if not source.startswith(NOTEBOOK_HEADER):
            raise ValueError(f"{notebook}: not a Databricks SOURCE notebook (first line must be "
                             f"'{NOTEBOOK_HEADER}')")
        remote = f"{remote_dir}/{notebook.stem}"
        client.workspace.upload(remote, io.BytesIO(source.encode()), format=ImportFormat.SOURCE,
                                language=Language.PYTHON, overwrite=True)
        published.append(remote)
    return published


def publish_wheels(client: WorkspaceClient, wheels: Iterable[Path], remote_dir: str) -> list[str]:
    """Upload wheels where `libraries: [{whl: ...}]` of a job finds them: a Unity Catalog volume
    (`/Volumes/...`, through the Files API) or a workspace directory."""
    on_volume = remote_dir.startswith("/Volumes/")
    if on_volume:
        client.files.create_directory(remote_dir)
    else:
        client.workspace.mkdirs(remote_dir)
    published = []
    for wheel in sorted(wheels):
        if wheel.suffix != ".whl":
            raise ValueError(f"{wheel}: not a wheel file")
        remote = f"{remote_dir}/{wheel.name}"
        contents = io.BytesIO(wheel.read_bytes())
        if on_volume:
            client.files.upload(remote, contents, overwrite=True)
        else:
            client.workspace.upload(remote, contents, format=ImportFormat.AUTO, overwrite=True)
        published.append(remote)
    return published


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.workspace",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--profile", help="~/.databrickscfg profile (default: DATABRICKS_* env)")
    parser.add_argument("--notebooks", type=Path, help="local folder of SOURCE notebooks (*.py)")
    parser.add_argument("--notebook-dir", help="workspace folder, e.g. /Workspace/Shared/x")
    parser.add_argument("--wheels", type=Path, help="local folder of wheels (*.whl)")
    parser.add_argument("--wheel-dir", help="volume or workspace folder, e.g. /Volumes/c/s/v/w")
    args = parser.parse_args(argv)
    pairs = [(args.notebooks, args.notebook_dir, "--notebooks", "--notebook-dir"),
             (args.wheels, args.wheel_dir, "--wheels", "--wheel-dir")]
    for local, remote, local_flag, remote_flag in pairs:
        if (local is None) != (remote is None):
            parser.error(f"{local_flag} and {remote_flag} go together")
        if local is not None and not local.is_dir():
            parser.error(f"{local_flag} {local} is not a directory")
    if args.notebooks is None and args.wheels is None:
        parser.error("nothing to publish: give --notebooks/--notebook-dir or --wheels/--wheel-dir")
    try:
        client = WorkspaceClient(profile=args.profile)
    except ValueError as error:  # the SDK's message says which settings it tried
        parser.exit(2, f"error: no Databricks credentials ({error})\n")
    if args.notebooks is not None:
        for remote in publish_notebooks(client, args.notebooks.glob("*.py"), args.notebook_dir):
            print(f"published notebook {remote}", flush=True)
    if args.wheels is not None:
        for remote in publish_wheels(client, args.wheels.glob("*.whl"), args.wheel_dir):
            print(f"published wheel {remote}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
