"""`python -m dbt_runner.manifest` parses the project offline into a manifest.json."""

import json
import os
import subprocess
import sys

from conftest import PROJECT_MODELS, REPO, RUNNER_ROOT

# The committed copy the Airflow-side renderer tests read (dbt is not in the Airflow resolve).
FIXTURE = REPO / "tests" / "dbt" / "fixtures" / "manifest.json"
REGENERATE = "python -m dbt_runner.manifest --slim --out tests/dbt/fixtures/manifest.json"


def graph(manifest: dict) -> dict:
    """What the DAG renderer reads from each node."""
    return {
        uid: (
            n["resource_type"],
            n["name"],
            sorted(n["tags"]),
            sorted(n.get("depends_on", {}).get("nodes", [])),
            n.get("config", {}).get("materialized"),
        )
        for uid, n in manifest["nodes"].items()
    }


def test_manifest_cli_writes_project_nodes_without_a_warehouse(tmp_path):
    out = tmp_path / "bundle" / "manifest.json"
    # No SPARK_REMOTE, no Databricks credentials: parse must not need a connection.
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "SPARK_REMOTE" and not key.startswith("DATABRICKS_")
    }
    env["PYTHONPATH"] = str(RUNNER_ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "dbt_runner.manifest", "--slim", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr

    manifest = json.loads(out.read_text())
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert models == PROJECT_MODELS
    orders = manifest["nodes"]["model.dataplatform.orders"]
    assert set(orders["depends_on"]["nodes"]) == {
        "model.dataplatform.stg_raw__orders",
        "model.dataplatform.stg_raw__payments",
        "seed.dataplatform.order_statuses",
    }
    assert "daily" in orders["tags"]
    tests = [n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    kinds = ("unique", "not_null", "relationships", "accepted_values")
    assert {kind for kind in kinds if any(name.startswith(f"{kind}_") for name in tests)} == set(
        kinds
    )
    assert set(manifest["sources"]) == {
        "source.dataplatform.raw.orders",
        "source.dataplatform.raw.customers",
        "source.dataplatform.raw.payments",
    }
    # --slim: only what the DAG renderer reads (dataplatform.dbt_graph)
    assert manifest["macros"] == manifest["parent_map"] == {}
    assert set(orders) == {"resource_type", "name", "original_file_path", "tags", "depends_on",
                           "config"}

    fixture = json.loads(FIXTURE.read_text())
    assert graph(fixture) == graph(manifest), f"stale fixture: run `{REGENERATE}`"
    # Nothing of the parse itself (times, ids, temporary paths) is shipped: the same project
    # gives the same bytes, so a rebuilt MWAA bundle is byte-identical.
    assert out.read_bytes() == FIXTURE.read_bytes(), f"stale fixture: run `{REGENERATE}`"
