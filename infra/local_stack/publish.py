"""Publish the notebooks and wheels to the emulator where an environment's DAGs look (`local`
for the local stack; the e2e tests also set the emulator up as the `test` workspace)."""

from __future__ import annotations

from pathlib import Path

from local_stack.emulator_process import EmulatorEndpoint


def publish(emulator: EmulatorEndpoint, notebooks: list[Path], wheels: list[Path],
            environment: str = "local") -> str:
    """Upload them with the deploy code a real workspace gets; returns a one-line summary."""
    from databricks.sdk import WorkspaceClient
    from dataplatform import load_environment
    from deploy.workspace import publish_notebooks, publish_wheels

    databricks = load_environment(environment).databricks
    client = WorkspaceClient(host=emulator.url, token=emulator.token, auth_type="pat")
    if databricks.wheel_dir.startswith("/Volumes/"):
        ensure_volume(client, databricks.wheel_dir)
    notebooks_done = publish_notebooks(client, notebooks, databricks.notebook_dir)
    wheels_done = publish_wheels(client, wheels, databricks.wheel_dir)
    return f"published {len(notebooks_done)} notebooks and {len(wheels_done)} wheels"


def ensure_volume(client, path: str) -> None:
    """Create the catalog, schema and volume of /Volumes/<catalog>/<schema>/<volume>/... unless
    they exist: a workspace's admins set them up once, the emulator's state starts empty."""
    from databricks.sdk.errors import ResourceConflict
    from databricks.sdk.service.catalog import VolumeType

    catalog, schema, volume = path.strip("/").split("/")[1:4]
    steps = (
        lambda: client.catalogs.create(catalog, comment="local environment"),
        lambda: client.schemas.create(schema, catalog),
        lambda: client.volumes.create(catalog, schema, volume, VolumeType.MANAGED),
    )
    for create in steps:
        try:
            create()
        except ResourceConflict:
            pass  # already there from an earlier start
