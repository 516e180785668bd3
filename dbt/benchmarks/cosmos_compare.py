"""DAG construction time: our model-level renderer vs astronomer-cosmos, same 500-model manifest.

1. generates a synthetic dbt project (N models in layers, each reading 1-3 earlier ones, with
   unique/not_null tests and one relationships test per model),
2. parses it with the project's manifest CLI (the `dbt/runner:manifest-cli` PEX, which carries
   dbt from the databricks resolve),
3. builds the DAG from that manifest repeatedly with `dataplatform.dbt_manifest.dbt_workflow`
   and with cosmos `DbtDag` (RenderConfig(load_method=LoadMode.DBT_MANIFEST), its defaults
   otherwise) and prints both times and the ratio.

Runs in the `benchmarks` resolve (Airflow pins + astronomer-cosmos):
  ./pants package dbt/runner:manifest-cli && \
  ./pants run dbt:cosmos-benchmark -- --manifest-pex dist/dbt.runner/manifest-cli.pex
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

PROFILES = """bench:
  target: local
  outputs:
    local:
      type: spark
      method: session
      host: sc://127.0.0.1:50051
      schema: bench
"""


def generate_project(root: Path, models: int, seed: int = 7) -> Path:
    """A dbt project of `models` models: model_i reads 1-3 models among the previous 50."""
    rng = random.Random(seed)
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        "name: bench\nversion: '1.0.0'\nprofile: bench\nmodel-paths: ['models']\n"
    )
    (root / "profiles.yml").write_text(PROFILES)
    (root / "models" / "_sources.yml").write_text(
        "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: events\n"
    )
    docs = ["version: 2", "models:"]
    for i in range(models):
        if i == 0:
            parents, sql_from = [], "{{ source('raw', 'events') }}"
        else:
            parents = sorted(rng.sample(range(max(0, i - 50), i), k=min(i, rng.randint(1, 3))))
            sql_from = " join ".join(
                f"{{{{ ref('model_{p}') }}}} as m{p}" + ("" if n == 0 else " using (id)")
                for n, p in enumerate(parents)
            )
        (root / "models" / f"model_{i}.sql").write_text(f"select * from {sql_from}\n")
        docs += [
            f"  - name: model_{i}",
            "    columns:",
            "      - name: id",
            "        data_tests:",
            "          - unique",
            "          - not_null",
        ]
        if parents:
            docs += [
                "          - relationships:",
                "              arguments:",
                f"                to: ref('model_{parents[0]}')",
                "                field: id",
            ]
    (root / "models" / "_models.yml").write_text("\n".join(docs) + "\n")
    return root


def parse_manifest(project: Path, out: Path, manifest_pex: Path) -> float:
    """Run the manifest CLI on `project`; returns its wall time in seconds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEX") and k != "SPARK_REMOTE"}
    started = time.perf_counter()
    result = subprocess.run(
        # The PEX brings its own environment: run it on the base interpreter, not this venv.
        [sys._base_executable, str(manifest_pex), "--project-dir", str(project), "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.exit(f"dbt parse of the synthetic project failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - started


def ours(manifest: Path, _project: Path) -> int:
    from airflow.sdk import DAG

    from dataplatform.dbt_manifest import DbtWorkflowConfig, dbt_workflow

    config = DbtWorkflowConfig(
        databricks_conn_id="databricks_default",
        job_clusters=[{"job_cluster_key": "main", "new_cluster": {"spark_version": "15.4.x"}}],
        wheel="/Volumes/bench/wheels/dbt_runner-0.1.0-py3-none-any.whl",
        target="prod",
        environment="prod",
        run_timeout_seconds=3600,
    )
    with DAG("bench_ours", schedule=None, start_date=datetime(2025, 1, 1, tzinfo=UTC)) as dag:
        dbt_workflow(manifest, config)
    return len(dag.tasks)


def cosmos(manifest: Path, project: Path) -> int:
    from cosmos import DbtDag, LoadMode, ProfileConfig, ProjectConfig, RenderConfig

    dag = DbtDag(
        dag_id="bench_cosmos",
        schedule=None,
        start_date=datetime(2025, 1, 1, tzinfo=UTC),
        project_config=ProjectConfig(
            dbt_project_path=project, manifest_path=manifest, project_name="bench"
        ),
        profile_config=ProfileConfig(
            profile_name="bench",
            target_name="local",
            profiles_yml_filepath=project / "profiles.yml",
        ),
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST),
    )
    return len(dag.tasks)


def time_builds(
    build: Callable[[Path, Path], int], manifest: Path, project: Path, repeats: int
) -> tuple[list[float], int]:
    build(manifest, project)  # warm-up: imports and first-use caches are not construction time
    times, tasks = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        tasks = build(manifest, project)
        times.append(time.perf_counter() - started)
    return times, tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--manifest-pex",
        type=Path,
        default=Path("dist/dbt.runner/manifest-cli.pex"),
        help="the dbt/runner:manifest-cli PEX (`./pants package dbt/runner:manifest-cli`)",
    )
    args = parser.parse_args()
    logging.getLogger("cosmos").setLevel(logging.WARNING)  # it logs a line per rendered task

    with tempfile.TemporaryDirectory(prefix="cosmos-compare-") as tmp:
        project = generate_project(Path(tmp) / "project", args.models)
        manifest = Path(tmp) / "manifest.json"
        parse_seconds = parse_manifest(project, manifest, args.manifest_pex.resolve())
        print(
            f"{args.models} models: dbt parse -> manifest.json "
            f"({manifest.stat().st_size / 1e6:.1f} MB) in {parse_seconds:.1f}s"
        )
        results = {}
        for name, build in (("ours (dbt_manifest)", ours), ("cosmos DbtDag", cosmos)):
            times, tasks = time_builds(build, manifest, project, args.repeats)
            results[name] = statistics.median(times)
            print(
                f"{name:<22} {tasks:>5} tasks  median {results[name] * 1000:8.1f} ms  "
                f"min {min(times) * 1000:8.1f} ms  ({args.repeats} builds)"
            )
    ours_s, cosmos_s = results.values()
    print(f"cosmos / ours = {cosmos_s / ours_s:.1f}x")


if __name__ == "__main__":
    main()
