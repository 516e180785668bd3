"""dbt-runner against a real Sail server: the project builds, and every failure (a broken model,
a selection matching nothing, missing credentials) exits non-zero saying what to fix."""

import json
import shutil
import subprocess
import sys

import pytest
from conftest import PROJECT_MODELS, REPO, RUNNER_ROOT

PROJECT = REPO / "dbt" / "runner" / "dbt_runner" / "project"


def test_seed_then_build_passes_all_schema_tests(run_runner, spark, tmp_path):
    for _ in range(2):  # re-seeding an external Delta table replaces its rows (runner's macro)
        seeded = run_runner("seed", "--target", "local")
        assert seeded.returncode == 0, seeded.stderr
        assert "order_statuses" in seeded.stdout
    csv_rows = len((PROJECT / "seeds" / "order_statuses.csv").read_text().splitlines()) - 1
    assert spark.sql("select * from analytics.order_statuses").count() == csv_rows

    built = run_runner("build", "--artifacts-dir", str(tmp_path / "artifacts"))
    assert built.returncode == 0, built.stdout + built.stderr

    results = json.loads((tmp_path / "artifacts" / "run_results.json").read_text())
    statuses = {r["unique_id"]: r["status"] for r in results["results"]}
    assert {s for uid, s in statuses.items() if uid.startswith("test.")} == {"pass"}
    assert statuses["model.dataplatform.customers"] == "success"
    assert (tmp_path / "artifacts" / "manifest.json").is_file()
    # One printed line per node, e.g. "model    orders    success    0.09s rows=-".
    lines = [line.split() for line in built.stdout.splitlines() if line.startswith("model ")]
    assert {line[1] for line in lines} == PROJECT_MODELS

    customers = {r.customer_id: r for r in spark.sql("select * from analytics.customers").collect()}
    assert customers[1].email == "ann.lee@example.com"  # latest snapshot wins
    assert (customers[1].number_of_orders, str(customers[1].lifetime_value)) == (2, "32.25")
    assert str(customers[2].lifetime_value) == "0.00"  # its only order was returned
    revenue = spark.sql("select revenue from analytics.monthly_revenue").collect()
    assert [str(r.revenue) for r in revenue] == ["35.25"]


def test_broken_model_exits_non_zero_naming_it_and_leaves_its_artifacts(run_runner, tmp_path):
    broken = tmp_path / "project"
    shutil.copytree(PROJECT, broken, ignore=shutil.ignore_patterns("target", "logs"))
    model = broken / "models" / "marts" / "orders.sql"
    model.write_text(model.read_text().replace("orders.amount,", "orders.no_such_column,"))
    root = tmp_path / "runs"

    result = run_runner("build", "--project-dir", str(broken), "--select", "+orders",
                        "--artifacts-root", str(root), "--run-id", "1234")

    assert result.returncode == 1, result.stdout + result.stderr
    failed = result.stderr.split("failed", 1)[1]
    assert "model orders:" in failed
    assert "stg_raw__orders" not in failed  # upstream models still built
    [run_dir] = root.iterdir()  # one new directory per run, named by time, command and run id
    assert run_dir.name.endswith("-build-1234")
    assert str(run_dir) in result.stdout
    results = json.loads((run_dir / "run_results.json").read_text())
    statuses = {r["unique_id"]: r["status"] for r in results["results"]}
    assert statuses["model.dataplatform.orders"] == "error"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert "model.dataplatform.orders" in manifest["nodes"]
    assert "no_such_column" in (run_dir / "dbt.log").read_text()


def test_selection_matching_nothing_fails_naming_the_selector(run_runner, tmp_path):
    result = run_runner("build", "--select", "tag:no_such_tag", "--artifacts-dir", str(tmp_path))

    assert result.returncode == 1, result.stdout + result.stderr
    assert "--select tag:no_such_tag matched no nodes" in result.stderr
    assert (tmp_path / "dbt.log").is_file()


@pytest.mark.parametrize("how", ["flag", "env"])
def test_profiles_dir_is_honoured(run_runner, tmp_path, how):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "profiles.yml").write_text(
        "dataplatform:\n  outputs:\n    elsewhere:\n"
        "      {type: spark, method: session, host: local, schema: from_my_profile}\n"
    )
    args = ["--profiles-dir", str(profiles)] if how == "flag" else []
    env = {"DBT_PROFILES_DIR": str(profiles)} if how == "env" else {}

    result = run_runner("parse", "--target", "elsewhere", "--artifacts-dir", str(tmp_path / "a"),
                        *args, env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    nodes = json.loads((tmp_path / "a" / "manifest.json").read_text())["nodes"]
    assert nodes["model.dataplatform.orders"]["schema"] == "from_my_profile"


@pytest.mark.parametrize(
    ("present", "missing"),
    [
        ({}, ["DATABRICKS_HOST", "DATABRICKS_HTTP_PATH", "DATABRICKS_TOKEN",
              "DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET"]),
        ({"DATABRICKS_HOST": "https://x.cloud.databricks.com", "DATABRICKS_HTTP_PATH": "/sql/1.0/"
          "warehouses/abc", "DATABRICKS_CLIENT_ID": "sp-id"}, ["DATABRICKS_CLIENT_SECRET"]),
    ],
)
@pytest.mark.parametrize("command", ["run", "debug"])
def test_databricks_target_without_credentials_names_the_missing_env_vars(
    tmp_path, present, missing, command
):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(RUNNER_ROOT), "HOME": str(tmp_path),
           **present}
    result = subprocess.run(
        [sys.executable, "-m", "dbt_runner", command, "--target", "test",
         "--artifacts-root", str(tmp_path / "runs")],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    for name in missing:
        assert name in result.stderr
    for name in present:
        assert f"{name} is not set" not in result.stderr
    assert "secret scope" in result.stderr and "spark_env_vars" in result.stderr
    assert "Traceback" not in result.stderr


def test_local_target_without_spark_remote_is_refused(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dbt_runner", "run", "--target", "local"],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(RUNNER_ROOT), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "SPARK_REMOTE" in result.stderr
