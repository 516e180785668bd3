"""Per-model overhead of dbt-runner: what one model task costs beyond the model's own SQL.

Each model of the model-level DAG is its own `dbt-runner build --select <model>` process, so
everything around the model's SQL (Python and dbt start-up, parsing the project, connecting)
is paid once per model. This script starts a Sail Spark Connect server, creates the one raw
table `stg_raw__customers` reads, and times `python -m dbt_runner run --select
stg_raw__customers` in a fresh process, as the wheel runs it:
- before: the wheel without a saved parse state (dbt parses the whole project every run);
- after: the wheel with the parse state `wheel_builder` adds (dbt skips parsing).
It prints, per case, the median wall time, the model's own time (run_results.json
execution_time) and the difference: the per-model overhead, plus the process's CPU seconds
(less sensitive than wall time to other work on the machine); and, as the floor, the time to
start Python and import dbt (`dbt-runner --help`).

  ./pants run dbt:model-overhead-benchmark [-- --runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import dbt_runner
from dbt_runner.parse_state import PACKAGED_STATES, write_states

MODEL = "stg_raw__customers"
RAW_CUSTOMERS = """
    select 1 as customer_id, 'Ann Lee' as name, 'ann@example.com' as email, 'US' as country,
           cast('2024-01-01' as date) as signup_date, cast('2024-03-01' as date) as _ingest_date
"""


def installed_copy(root: Path, with_state: bool) -> Path:
    """A copy of the dbt_runner package as a wheel installs it, with or without parse states."""
    site = root / ("after" if with_state else "before")
    package = site / "dbt_runner"
    shutil.copytree(Path(dbt_runner.__file__).parent, package,
                    ignore=shutil.ignore_patterns("__pycache__", PACKAGED_STATES))
    if with_state:
        write_states(package / PACKAGED_STATES, package / "project")
    return site


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(site: Path, env: dict[str, str], artifacts: Path) -> tuple[float, float, float]:
    """(wall seconds of the process, its CPU seconds, seconds dbt spent on the model)."""
    cpu = child_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "dbt_runner", "run", "--select", MODEL, "--target", "local",
         "--artifacts-dir", str(artifacts)],
        env={**env, "PYTHONPATH": str(site)}, capture_output=True, text=True, check=False,
    )
    wall = time.perf_counter() - started
    cpu = child_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"dbt-runner failed:\n{done.stdout}\n{done.stderr}")
    results = json.loads((artifacts / "run_results.json").read_text())["results"]
    return wall, cpu, sum(r["execution_time"] for r in results)


def import_floor(env: dict[str, str]) -> float:
    """Wall seconds of `python -m dbt_runner --help`: interpreter start and dbt's imports, the
    part of the overhead no saved state removes."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dbt_runner", "--help"], env=env,
                   capture_output=True, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per case (default 5)")
    args = parser.parse_args()

    from pysail.spark import SparkConnectServer
    from pyspark.sql import SparkSession

    server = SparkConnectServer("127.0.0.1", 0)
    server.start(background=True)
    host, port = server.listening_address
    remote = f"sc://{host}:{port}/;session_id={uuid.uuid4()}"
    with tempfile.TemporaryDirectory(prefix="model-overhead-") as tmp:
        root = Path(tmp)
        spark = SparkSession.builder.remote(remote).getOrCreate()
        spark.sql("create database if not exists raw")
        spark.sql(f"create or replace table raw.customers using delta "
                  f"location '{root / 'raw_customers'}' as {RAW_CUSTOMERS}")
        env = {**os.environ, "SPARK_REMOTE": remote, "DBT_WAREHOUSE_DIR": str(root / "wh")}
        print(f"model {MODEL}, {args.runs} runs per case, each a new process", flush=True)
        floor = statistics.median(import_floor(env) for _ in range(args.runs))
        print(f"{'floor (python + dbt imports)':<28} wall {floor:6.2f} s", flush=True)
        for case, with_state in (("before (parse every run)", False),
                                 ("after (saved parse state)", True)):
            site = installed_copy(root, with_state)
            one_run(site, env, root / "warm-up")  # first run: imports from a cold disk cache
            timings = [one_run(site, env, root / f"{case[:5]}-{i}") for i in range(args.runs)]
            wall, cpu, model = (statistics.median(t[i] for t in timings) for i in range(3))
            print(f"{case:<28} wall {wall:6.2f} s   cpu {cpu:6.2f} s   model {model:5.2f} s   "
                  f"overhead {wall - model:6.2f} s", flush=True)
    server.stop()


if __name__ == "__main__":
    main()
