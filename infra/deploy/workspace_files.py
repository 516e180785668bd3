"""Notebooks and wheels in a Databricks workspace (databricks-sdk): what differs, and uploads.

Notebooks go to a workspace folder as SOURCE notebooks named by file stem; wheels to a Unity
Catalog volume (``/Volumes/...``, through the Files API) or a workspace folder, where a job's
``libraries: [{whl: ...}]`` finds them. A wheel's name carries its content hash (the build
versions it), so a wheel already there is the same wheel and is not uploaded again.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound
from databricks.sdk.service.workspace import ExportFormat, ImportFormat, Language

from deploy.errors import DeployError

NOTEBOOK_HEADER = "# Databricks notebook source"


@dataclass(frozen=True)
class Upload:
    """One file of a plan: ``create`` (absent), ``replace`` (differs) or ``unchanged``."""

    action: Literal["create", "replace", "unchanged"]
    local: Path
    remote: str

    def describe(self) -> str:
        return f"{self.action:<9} {self.remote}"


def notebook_source(notebook: Path) -> str:
    source = notebook.read_text(encoding="utf-8")
    if not source.startswith(NOTEBOOK_HEADER):
        raise DeployError(
            f"{notebook}: not a Databricks SOURCE notebook (first line must be "
            f"'{NOTEBOOK_HEADER}')"
        )
    return source


def plan_notebooks(
    client: WorkspaceClient, notebooks: Iterable[Path], remote_dir: str
) -> list[Upload]:
    """Each notebook against its SOURCE export from ``<remote_dir>/<stem>``."""
    plan = []
    for notebook in sorted(notebooks):
        source, remote = notebook_source(notebook), f"{remote_dir}/{notebook.stem}"
        try:
            exported = client.workspace.export(remote, format=ExportFormat.SOURCE).content
        except NotFound:
            plan.append(Upload("create", notebook, remote))
            continue
        same = base64.b64decode(exported or "").decode().rstrip() == source.rstrip()
        plan.append(Upload("unchanged" if same else "replace", notebook, remote))
    return plan


def plan_wheel(client: WorkspaceClient, wheel: Path, remote_dir: str) -> Upload:
    remote = f"{remote_dir}/{wheel.name}"
    try:
        if _on_volume(remote_dir):
            client.files.get_metadata(remote)
        else:
            client.workspace.get_status(remote)
    except NotFound:
        return Upload("create", wheel, remote)
    return Upload("unchanged", wheel, remote)


def volume_problem(client: WorkspaceClient, remote_dir: str) -> str | None:
    """None unless ``remote_dir`` is on a Unity Catalog volume that does not exist (its admins
    create it once; the deploy never creates catalogs, schemas or volumes)."""
    if not _on_volume(remote_dir):
        return None
    name = ".".join(remote_dir.strip("/").split("/")[1:4])
    try:
        client.volumes.read(name)
    except NotFound:
        return (
            f"volume {name} (of wheel_dir {remote_dir}) does not exist: create it "
            f"(CREATE VOLUME {name}) or fix [databricks] wheel_dir"
        )
    return None


def upload_notebook(client: WorkspaceClient, upload: Upload) -> None:
    client.workspace.mkdirs(upload.remote.rsplit("/", 1)[0])
    client.workspace.upload(
        upload.remote,
        io.BytesIO(notebook_source(upload.local).encode()),
        format=ImportFormat.SOURCE,
        language=Language.PYTHON,
        overwrite=True,
    )


def upload_wheel(client: WorkspaceClient, upload: Upload) -> None:
    if upload.local.suffix != ".whl":
        raise DeployError(f"{upload.local}: not a wheel file")
    remote_dir = upload.remote.rsplit("/", 1)[0]
    contents = io.BytesIO(upload.local.read_bytes())
    if _on_volume(remote_dir):
        client.files.create_directory(remote_dir)
        client.files.upload(upload.remote, contents, overwrite=True)
    else:
        client.workspace.mkdirs(remote_dir)
        client.workspace.upload(upload.remote, contents, format=ImportFormat.AUTO, overwrite=True)


def publish_notebooks(
    client: WorkspaceClient, notebooks: Iterable[Path], remote_dir: str
) -> list[str]:
    """Import SOURCE-format notebooks as ``<remote_dir>/<file stem>``, replacing older ones."""
    uploads = [Upload("replace", nb, f"{remote_dir}/{nb.stem}") for nb in sorted(notebooks)]
    for upload in uploads:
        upload_notebook(client, upload)
    return [upload.remote for upload in uploads]


def publish_wheels(client: WorkspaceClient, wheels: Iterable[Path], remote_dir: str) -> list[str]:
    uploads = [Upload("replace", wheel, f"{remote_dir}/{wheel.name}") for wheel in sorted(wheels)]
    for upload in uploads:
        upload_wheel(client, upload)
    return [upload.remote for upload in uploads]


def _on_volume(path: str) -> bool:
    return path.startswith("/Volumes/")
