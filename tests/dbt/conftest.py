"""A real Sail Spark Connect server on 127.0.0.1 holding the raw tables of the dbt sources.

The raw tables follow the contract in notebooks/ingest_raw.py: customers is a daily snapshot
(two ingest dates here, so staging must deduplicate), one payment per order not returned.
All clients share one Spark Connect session id: Sail keeps its catalog per session, so this is
how the tables created here are visible to the dbt process (see dbt/README.md).
"""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from pysail.spark import SparkConnectServer
from pyspark.sql import SparkSession

REPO = Path(__file__).resolve().parents[2]
RUNNER_ROOT = REPO / "dbt" / "runner"
# Every model of the packaged dbt project.
PROJECT_MODELS = {
    "stg_raw__orders",
    "stg_raw__customers",
    "stg_raw__payments",
    "orders",
    "customers",
    "monthly_revenue",
}

RAW_TABLES = {
    "customers": """
        select customer_id, name, email, country, cast(signup_date as date) as signup_date,
               cast(_ingest_date as date) as _ingest_date
        from values
            (1, 'Ann Lee', 'ann@example.com', 'us', '2024-01-01', '2024-03-01'),
            (2, 'Bo Chan', 'bo@example.com', 'DE', '2024-01-05', '2024-03-01'),
            (1, 'Ann Lee', 'ann.lee@example.com', 'US', '2024-01-01', '2024-03-02'),
            (2, 'Bo Chan', 'bo@example.com', 'DE', '2024-01-05', '2024-03-02'),
            (3, 'Cy Dee', 'cy@example.com', 'FR', '2024-02-11', '2024-03-02')
            as t(customer_id, name, email, country, signup_date, _ingest_date)""",
    "orders": """
        select order_id, customer_id, cast(order_date as date) as order_date, status,
               cast(amount as decimal(12, 2)) as amount, cast(order_date as date) as _ingest_date
        from values
            (2024030101, 1, '2024-03-01', 'completed', 20.00),
            (2024030102, 2, '2024-03-01', 'returned', 7.50),
            (2024030201, 1, '2024-03-02', 'shipped', 12.25),
            (2024030202, 3, '2024-03-02', 'placed', 3.00)
            as t(order_id, customer_id, order_date, status, amount)""",
    "payments": """
        select payment_id, order_id, payment_method, cast(amount as decimal(12, 2)) as amount,
               cast(paid_at as timestamp) as paid_at, cast(_ingest_date as date) as _ingest_date
        from values
            (20240301011, 2024030101, 'card', 20.00, '2024-03-01 09:00:00', '2024-03-01'),
            (20240302011, 2024030201, 'gift_card', 12.25, '2024-03-02 09:00:00', '2024-03-02'),
            (20240302021, 2024030202, 'bank_transfer', 3.00, '2024-03-02 10:00:00', '2024-03-02')
            as t(payment_id, order_id, payment_method, amount, paid_at, _ingest_date)""",
}


@pytest.fixture(scope="session")
def spark_remote(tmp_path_factory):
    """SPARK_REMOTE of a Sail server (one shared session) whose `raw` database is filled."""
    server = SparkConnectServer("127.0.0.1", 0)
    server.start(background=True)
    host, port = server.listening_address
    remote = f"sc://{host}:{port}/;session_id={uuid.uuid4()}"
    spark = SparkSession.builder.remote(remote).getOrCreate()
    raw_dir = tmp_path_factory.mktemp("raw")
    spark.sql("create database if not exists raw")
    for table, query in RAW_TABLES.items():
        spark.sql(
            f"create or replace table raw.{table} using delta location '{raw_dir / table}' "
            f"as {query}"
        )
    yield remote
    server.stop()


@pytest.fixture(scope="session")
def spark(spark_remote):
    return SparkSession.builder.remote(spark_remote).getOrCreate()


@pytest.fixture
def run_runner(spark_remote, tmp_path):
    """Run `python -m dbt_runner ARGS` (the wheel's entry point) against the Sail server."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        env = {
            **os.environ,
            **(env or {}),
            "SPARK_REMOTE": spark_remote,
            "DBT_WAREHOUSE_DIR": str(tmp_path / "warehouse"),
            "PYTHONPATH": os.pathsep.join([str(RUNNER_ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        return subprocess.run(
            [sys.executable, "-m", "dbt_runner", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    return run
