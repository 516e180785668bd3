"""Publish notebooks and wheels to a Databricks workspace with databricks-sdk.

The same code serves the local emulator and real workspaces: the DAGs read notebooks and
wheels from the workspace directories their environment's config names.
"""

from __future__ import annotations

import io
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
