"""Unity Catalog names through databricks-sdk: catalogs, schemas, volumes, three-level tables."""

from __future__ import annotations

import io

import pytest
from conftest import notebook_task, upload_notebook, wait_done
from databricks.sdk.errors import BadRequest, InvalidParameterValue, NotFound, ResourceConflict
from databricks.sdk.service import catalog, compute, jobs


def run_notebook(client, name: str, source: str, spark_conf: dict[str, str] | None = None):
    """Run a notebook on a job cluster; returns (run, its task's output)."""
    upload_notebook(client, f"/Users/dev/{name}", source)
    task = notebook_task(name, f"/Users/dev/{name}")
    if spark_conf is not None:
        task.new_cluster = compute.ClusterSpec(
            spark_version="15.4.x-scala2.12", num_workers=1, spark_conf=spark_conf
        )
    run = wait_done(client, client.jobs.submit(run_name=name, tasks=[task]).response.run_id)
    return run, client.jobs.get_run_output(run.tasks[0].run_id)


def test_catalog_schema_volume_round_trip(client):
    created = client.catalogs.create("round_trip", comment="for the test")
    assert (created.name, created.comment) == ("round_trip", "for the test")
    with pytest.raises(ResourceConflict, match="already exists"):
        client.catalogs.create("round_trip")
    assert "round_trip" in [c.name for c in client.catalogs.list()]
    assert [s.name for s in client.schemas.list("round_trip")] == ["default"]

    client.schemas.create("landing", "round_trip")
    volume = client.volumes.create("round_trip", "landing", "files", catalog.VolumeType.MANAGED)
    assert volume.full_name == "round_trip.landing.files"
    assert client.volumes.read("round_trip.landing.files").volume_type == catalog.VolumeType.MANAGED
    with pytest.raises(InvalidParameterValue, match="External volumes"):
        client.volumes.create(
            "round_trip", "landing", "ext", catalog.VolumeType.EXTERNAL,
            storage_location="s3://bucket/path",
        )
    client.files.upload("/Volumes/round_trip/landing/files/a.txt", io.BytesIO(b"hello"))
    assert client.files.download("/Volumes/round_trip/landing/files/a.txt").contents.read() == (
        b"hello"
    )

    with pytest.raises(BadRequest, match="is not empty"):
        client.schemas.delete("round_trip.landing")
    client.catalogs.delete("round_trip", force=True)
    with pytest.raises(NotFound, match="round_trip"):
        client.catalogs.get("round_trip")
    with pytest.raises(NotFound, match="round_trip"):
        client.files.download("/Volumes/round_trip/landing/files/a.txt")


def test_volume_path_is_refused_until_catalog_schema_and_volume_exist(client):
    path = "/Volumes/later/inbox/drop/file.csv"
    with pytest.raises(NotFound, match="Catalog 'later' does not exist"):
        client.files.upload(path, io.BytesIO(b"a,b\n"))
    client.catalogs.create("later")
    with pytest.raises(NotFound, match="Schema 'later.inbox' does not exist"):
        client.files.upload(path, io.BytesIO(b"a,b\n"))
    client.schemas.create("inbox", "later")
    with pytest.raises(NotFound, match="Volume 'later.inbox.drop' does not exist"):
        client.files.upload(path, io.BytesIO(b"a,b\n"))
    client.volumes.create("later", "inbox", "drop", catalog.VolumeType.MANAGED)
    client.files.upload(path, io.BytesIO(b"a,b\n"))

    run, output = run_notebook(
        client, "volume_reader",
        'print(dbutils.fs.head("/Volumes/later/inbox/drop/file.csv"))\n'
        'dbutils.fs.ls("/Volumes/later/inbox/missing/")\n',
    )
    assert run.state.result_state == jobs.RunResultState.FAILED
    assert output.error.startswith("FileNotFoundError: ")
    assert "Volume 'later.inbox.missing' does not exist" in output.error


def test_three_level_tables_stay_in_their_catalog(client):
    client.catalogs.create("sales")
    client.catalogs.create("finance")
    run, _ = run_notebook(
        client, "write_sales",
        'spark.sql("CREATE SCHEMA IF NOT EXISTS sales.raw")\n'
        'spark.range(7).write.format("delta").saveAsTable("sales.raw.orders")\n',
    )
    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state.state_message

    # A new compute (next run) still has the table: the journal keeps three-level names.
    run, output = run_notebook(
        client, "read_sales",
        'dbutils.notebook.exit(str(spark.table("sales.raw.orders").count()))\n',
    )
    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state.state_message
    assert output.notebook_output.result == "7"

    run, output = run_notebook(
        client, "read_wrong_catalog", 'spark.table("finance.raw.orders").count()\n'
    )
    assert run.state.result_state == jobs.RunResultState.FAILED
    assert "TABLE_OR_VIEW_NOT_FOUND" in output.error

    run, output = run_notebook(
        client, "read_unknown_catalog", 'spark.table("nowhere.raw.orders").count()\n'
    )
    assert run.state.result_state == jobs.RunResultState.FAILED
    assert "TABLE_OR_VIEW_NOT_FOUND" in output.error


def test_two_level_names_resolve_in_the_cluster_initial_catalog(client):
    client.catalogs.create("analytics")
    writer = (
        'spark.sql("CREATE SCHEMA IF NOT EXISTS curated")\n'
        'spark.range(3).write.format("delta").mode("overwrite").saveAsTable("curated.kpis")\n'
        "dbutils.notebook.exit(spark.catalog.currentCatalog())\n"
    )
    initial = {"spark.databricks.sql.initial.catalog.name": "analytics"}
    run, output = run_notebook(client, "write_two_level", writer, spark_conf=initial)
    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state.state_message
    assert output.notebook_output.result == "analytics"

    reader = "dbutils.notebook.exit(str(spark.table('analytics.curated.kpis').count()))\n"
    run, output = run_notebook(client, "read_three_level", reader)
    assert output.notebook_output.result == "3"

    # A job cluster's default catalog is hive_metastore: the two-level name is not there.
    run, output = run_notebook(client, "read_default", 'spark.table("curated.kpis").count()\n', {})
    assert run.state.result_state == jobs.RunResultState.FAILED
    assert "TABLE_OR_VIEW_NOT_FOUND" in output.error

    missing = {"spark.databricks.sql.initial.catalog.name": "absent"}
    run, _ = run_notebook(client, "absent_catalog", "pass\n", spark_conf=missing)
    assert run.state.result_state == jobs.RunResultState.FAILED
    assert "'absent', which does not exist" in run.state.state_message


def test_views_outlive_the_compute_that_made_them(client):
    client.catalogs.create("marts")
    writer = (
        'spark.sql("CREATE SCHEMA IF NOT EXISTS marts.core")\n'
        'spark.range(5).write.format("delta").saveAsTable("marts.core.events")\n'
        'spark.sql("CREATE VIEW marts.core.recent AS SELECT id FROM marts.core.events '
        'WHERE id >= 2")\n'
        # A view over a view: created again only after the view it reads.
        'spark.sql("CREATE VIEW marts.core.recent_count AS SELECT count(*) AS n '
        'FROM marts.core.recent")\n'
    )
    run, _ = run_notebook(client, "write_views", writer)
    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state.state_message

    # The next run's compute is new: the views come back from the journal.
    reader = 'dbutils.notebook.exit(str(spark.table("marts.core.recent_count").first()["n"]))\n'
    run, output = run_notebook(client, "read_views", reader)
    assert run.state.result_state == jobs.RunResultState.SUCCESS, output.error
    assert output.notebook_output.result == "3"
