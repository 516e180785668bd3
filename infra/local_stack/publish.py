"""Publish the notebooks and wheels, and deploy the jobs, to the emulator where an environment's
DAGs look (`local` for the local stack; the e2e tests also set the emulator up as the `test`
workspace)."""

from __future__ import annotations

from pathlib import Path

from local_stack.emulator_process import EmulatorEndpoint


def publish(emulator: EmulatorEndpoint, notebooks: list[Path], wheels: list[Path],
            environment: str = "local") -> str:
    """Upload them and deploy the environment's jobs with the deploy code a real workspace gets
    (the jobs tagged with git sha ``local``); returns a one-line summary."""
    from databricks.sdk import WorkspaceClient
    from dataplatform import load_environment
    from dataplatform.jobs import job_definitions
    from deploy.jobs import apply_jobs, plan_jobs, tagged_definitions
    from deploy.workspace_files import publish_notebooks, publish_wheels

    env = load_environment(environment)
    databricks = env.databricks
    client = WorkspaceClient(host=emulator.url, token=emulator.token, auth_type="pat")
    if databricks.wheel_dir.startswith("/Volumes/"):
        ensure_volume(client, databricks.wheel_dir)
    notebooks_done = publish_notebooks(client, notebooks, databricks.notebook_dir)
    wheels_done = publish_wheels(client, wheels, databricks.wheel_dir)
    jobs = plan_jobs(client, env.name, tagged_definitions(job_definitions(env), "local"))
    apply_jobs(client, jobs, progress=lambda line: None)
    scope = fill_dbt_scope(client, emulator, env)
    summary = (
        f"published {len(notebooks_done)} notebooks and {len(wheels_done)} wheels, "
        f"{len(jobs)} jobs deployed"
    )
    if scope:
        summary += f"; secret scope {scope} holds the emulator's warehouse credentials"
    return summary


def fill_dbt_scope(client, emulator: EmulatorEndpoint, env) -> str | None:
    """Put the emulator's SQL warehouse credentials into the environment's dbt secret scope, the
    way a workspace admin fills it once: the dbt cluster's `{{secrets/...}}` references then
    resolve as on Databricks. The keys the environment names get the token, or the emulator's
    service principal (OAuth M2M client id and secret) when this process started the emulator."""
    from databricks.sdk.errors import ResourceAlreadyExists

    credentials = env.dbt.credentials
    if credentials is None:
        return None
    try:
        client.secrets.create_scope(credentials.scope)
    except ResourceAlreadyExists:
        pass  # filled at an earlier start: the values below are refreshed
    (warehouse,) = client.warehouses.list()  # the emulator's one SQL warehouse
    values = {
        # A path after the port makes databricks-sql-connector keep scheme and port.
        credentials.host_key: f"http://127.0.0.1:{emulator.port}/local",
        credentials.http_path_key: warehouse.odbc_params.path,
        credentials.token_key: emulator.token,
        credentials.client_id_key: emulator.client_id,
        credentials.client_secret_key: emulator.client_secret,
    }
    for key, value in values.items():
        if key is not None and value:
            client.secrets.put_secret(credentials.scope, key, string_value=value)
    return credentials.scope


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
