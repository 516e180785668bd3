"""dbt-runner against a real Sail server: the project builds and a broken model fails loudly."""

import json
import shutil
import subprocess
import sys

from conftest import PROJECT_MODELS, REPO, RUNNER_ROOT

PROJECT = REPO / "dbt" / "runner" / "dbt_runner" / "project"


def test_seed_then_build_passes_all_schema_tests(run_runner, spark, tmp_path):
    seeded = run_runner("seed", "--target", "local")
    assert seeded.returncode == 0, seeded.stderr
    assert "order_statuses" in seeded.stdout

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


def test_broken_model_exits_non_zero_naming_it(run_runner, tmp_path):
    broken = tmp_path / "project"
    shutil.copytree(PROJECT, broken, ignore=shutil.ignore_patterns("target", "logs"))
    model = broken / "models" / "marts" / "orders.sql"
    model.write_text(model.read_text().replace("orders.amount,", "orders.no_such_column,"))

    result = run_runner("build", "--project-dir", str(broken), "--select", "+orders")

    assert result.returncode == 1, result.stdout + result.stderr
    failed = result.stderr.split("failed", 1)[1]
    assert "model orders:" in failed
    assert "stg_raw__orders" not in failed  # upstream models still built


def test_local_target_without_spark_remote_is_refused(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dbt_runner", "run", "--target", "local"],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(RUNNER_ROOT), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "SPARK_REMOTE" in result.stderr
