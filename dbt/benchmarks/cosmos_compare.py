"""DAG construction time: our model-level renderer vs astronomer-cosmos, on the same manifests.

For each size (default 500 and 2,000 models) it builds the synthetic project
(synthetic_project.py: models in folders, each reading 1-3 earlier ones, unique/not_null tests
and a relationships test per model) and parses it with dbt (the `dbt:synthetic-build` PEX),
then builds a DAG from that manifest.json repeatedly with:
- ours: `dataplatform.dbt_manifest.dbt_workflow` (a task per model, its tests inside it), from
  dbt's manifest and from the slim manifest the DAG bundle ships (what production reads);
- cosmos like-for-like: `DbtDag` with `TestBehavior.BUILD` (a `dbt build` task per model, its
  tests inside it): the same task count as ours;
- cosmos default: `DbtDag` with its defaults (`TestBehavior.AFTER_EACH`: a run task and a test
  task per model, twice the tasks).
Cosmos and the first row of ours read the same manifest.json (`LoadMode.DBT_MANIFEST`, no dbt
call). Builds are interleaved (one of each renderer per round, a garbage collection before each)
so that other load on the machine hits all alike. It prints the task count, median and min
build time, time per task, and each time over ours (from the same manifest), side by side.

Runs in the `benchmarks` resolve (Airflow pins + astronomer-cosmos):
  ./pants package dbt:synthetic-build && ./pants run dbt:cosmos-benchmark [-- --models 500 2000]
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.synthetic_project import build_with_pex

Builder = Callable[[Path], int]  # the DAG's task count, from a synthetic build directory


def ours(manifest_name: str) -> Builder:
    """Our renderer's builder, reading `manifest_name` of the build directory."""

    def build(built: Path) -> int:
        return ours_dag(built / manifest_name)

    return build


def ours_dag(manifest: Path) -> int:
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


def cosmos(test_behavior_name: str | None) -> Builder:
    """A cosmos DbtDag builder; `test_behavior_name` None keeps cosmos' default."""

    def build(built: Path) -> int:
        from cosmos import DbtDag, LoadMode, ProfileConfig, ProjectConfig, RenderConfig
        from cosmos.constants import TestBehavior

        render = {"load_method": LoadMode.DBT_MANIFEST}
        if test_behavior_name:
            render["test_behavior"] = TestBehavior[test_behavior_name]
        manifest, project = built / "manifest.json", built / "project"
        dag = DbtDag(
            dag_id="bench_cosmos",
            schedule=None,
            start_date=datetime(2025, 1, 1, tzinfo=UTC),
            project_config=ProjectConfig(
                dbt_project_path=project, manifest_path=manifest, project_name="synthetic"
            ),
            profile_config=ProfileConfig(
                profile_name="dataplatform",
                target_name="local",
                profiles_yml_filepath=project / "profiles.yml",
            ),
            render_config=RenderConfig(**render),
        )
        return len(dag.tasks)

    return build


OURS = "ours"
BUILDERS: dict[str, Builder] = {
    OURS: ours("manifest.json"),
    "ours, shipped slim manifest": ours("slim-manifest.json"),
    "cosmos TestBehavior.BUILD": cosmos("BUILD"),
    "cosmos default": cosmos(None),
}


@dataclass
class Timings:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # this process's CPU: less sensitive to load
    tasks: int = 0


def time_interleaved(built: Path, repeats: int) -> dict[str, Timings]:
    """Per builder: its build times and task count; one build of each per round."""
    for build in BUILDERS.values():
        build(built)  # warm-up: imports and first-use caches are not construction time
    results = {name: Timings() for name in BUILDERS}
    for _ in range(repeats):
        for name, build in BUILDERS.items():
            gc.collect()  # the previous DAG's garbage is not this build's work
            wall, cpu = time.perf_counter(), time.process_time()
            results[name].tasks = build(built)
            results[name].wall.append(time.perf_counter() - wall)
            results[name].cpu.append(time.process_time() - cpu)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--build-pex",
        type=Path,
        default=Path("dist/dbt/synthetic-build.pex"),
        help="the dbt:synthetic-build PEX (`./pants package dbt:synthetic-build`)",
    )
    args = parser.parse_args()
    logging.getLogger("cosmos").setLevel(logging.WARNING)  # it logs a line per rendered task

    rows = []
    with tempfile.TemporaryDirectory(prefix="cosmos-compare-") as tmp:
        for models in args.models:
            built = build_with_pex(args.build_pex.resolve(), models, Path(tmp) / str(models))
            print(f"{models} models: manifest.json "
                  f"{(built / 'manifest.json').stat().st_size / 1e6:.1f} MB, shipped slim "
                  f"manifest {(built / 'slim-manifest.json').stat().st_size / 1e6:.1f} MB; "
                  f"{args.repeats} rounds of builds ...", flush=True)
            results = time_interleaved(built, args.repeats)
            ours_wall = statistics.median(results[OURS].wall)
            ours_cpu = statistics.median(results[OURS].cpu)
            for name, timing in results.items():
                wall, cpu = statistics.median(timing.wall), statistics.median(timing.cpu)
                rows.append((models, name, timing.tasks, wall, cpu, wall / timing.tasks,
                             wall / ours_wall, cpu / ours_cpu))

    print(f"\nmedians of {args.repeats} interleaved builds, after a warm-up build of each")
    print(f"{'models':>6}  {'renderer':<28} {'tasks':>5} {'wall ms':>9} {'cpu ms':>8} "
          f"{'us/task':>8} {'wall/ours':>9} {'cpu/ours':>8}")
    for models, name, tasks, wall, cpu, per_task, wall_ratio, cpu_ratio in rows:
        print(f"{models:>6}  {name:<28} {tasks:>5} {wall * 1000:>9.1f} {cpu * 1000:>8.1f} "
              f"{per_task * 1e6:>8.0f} {wall_ratio:>8.1f}x {cpu_ratio:>7.1f}x")


if __name__ == "__main__":
    main()
