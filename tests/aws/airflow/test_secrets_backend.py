"""The notebook DAG finds its Databricks connection in Secrets Manager, as on MWAA.

Airflow runs with exactly the AirflowConfigurationOptions of the synthesized `test` stack; the
connection exists nowhere but in the secret `deploy.secrets put` wrote (no AIRFLOW_CONN_*
variable, nothing in the metadata database).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from conftest import DAGS_FOLDER, REPO, put_secret, stack_airflow_options

LOGICAL_DATE = datetime(2025, 3, 14, tzinfo=UTC)


def test_airflow_uses_the_stacks_secrets_backend() -> None:
    from airflow.configuration import conf

    options = stack_airflow_options()
    assert conf.get("secrets", "backend") == options["secrets.backend"]
    assert json.loads(conf.get("secrets", "backend_kwargs")) == json.loads(
        options["secrets.backend_kwargs"]
    )


def test_notebook_dag_runs_with_the_connection_from_the_secret(secrets_endpoint, emulator) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.connection import Connection
    from databricks.sdk import WorkspaceClient
    from dataplatform import load_environment
    from dataplatform.dags import dag_test
    from deploy.workspace_files import publish_notebooks

    env = load_environment("test")
    conn_id = env.databricks.conn_id
    assert not [k for k in os.environ if k.startswith("AIRFLOW_CONN_")]
    written = put_secret("databricks", emulator.airflow_connection())
    assert written.returncode == 0, written.stderr
    assert emulator.token not in written.stdout + written.stderr

    connection = Connection.get_connection_from_secrets(conn_id)
    assert (connection.host, connection.port, connection.schema) == (
        emulator.host, emulator.port, "http",
    )  # fmt: skip

    client = WorkspaceClient(host=emulator.url, token=emulator.token, auth_type="pat")
    # What the test workspace's admins set up once: the environment's Unity Catalog catalog.
    client.catalogs.create(env.unity_catalog.catalog)
    notebooks = sorted((REPO / "notebooks").glob("*.py"))
    publish_notebooks(client, notebooks, env.databricks.notebook_dir)
    bag = DagBag(dag_folder=DAGS_FOLDER / "notebook_jobs" / "orders_ingest.py",
                 bundle_path=DAGS_FOLDER)  # fmt: skip
    assert not bag.import_errors, bag.import_errors
    dag_run = dag_test(bag.dags["notebook_orders_ingest"], logical_date=LOGICAL_DATE)
    assert dag_run.state == "success"

    [run] = client.jobs.list_runs()
    assert run.state.result_state.value == "SUCCESS", run.state.state_message
    assert Path(run.tasks[0].notebook_task.notebook_path).parent.as_posix() == (
        env.databricks.notebook_dir
    )
