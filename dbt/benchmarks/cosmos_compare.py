"""DAG construction time: our model-level renderer vs astronomer-cosmos, on the same manifests,
with Airflow's own floor beside them.

For each size (default 500 and 2,000 models) it builds the synthetic project
(`dataplatform.synthetic_dbt`: staging, intermediate and marts models in folders per layer and
domain, each reading a source or 1-3 earlier models, unique/not_null tests and a relationships
test per model) and parses it with dbt (the `dbt:synthetic-build` PEX), then builds a DAG
repeatedly with each of:
- ours: `dataplatform.dbt_manifest.dbt_workflow` (a task per model, its tests inside it, in
  `DatabricksWorkflowTaskGroup`s), from dbt's manifest.json and from the slim manifest the DAG
  bundle ships (what production reads);
- cosmos like-for-like: `DbtDag` with `TestBehavior.BUILD` (a `dbt build` task per model, its
  tests inside it: ours' task count less the source tests and launch tasks), from the same two
  files (`LoadMode.DBT_MANIFEST`: no dbt call);
- cosmos default: `DbtDag` with its defaults (a run and a test task per model);
- the floors: ours' DAG rebuilt with nothing of ours, the same task ids and edges (recorded as
  ours records them): as `EmptyOperator`s, as bare `DatabricksTaskOperator`s, and as bare
  `DatabricksTaskOperator`s in the same `DatabricksWorkflowTaskGroup`s (the provider's launch
  tasks and wiring). No renderer of one task per model with these operators can be faster than
  its floor, so cosmos' time over a floor is the most any renderer could gain.

Every builder gets the same DAG-level settings (dag id, no schedule, a start date); cosmos keeps
its defaults but logs at WARNING (it logs a line per task). Builds are interleaved: one of each
per round, the order rotated every round, a garbage collection before each. The first round is
a warm-up (imports, first-use caches), not counted; after it the process freezes its objects
(`gc.freeze()`), as the dag-processor does before it forks a parse. It prints per builder the
medians of CPU time (this process's; less sensitive to other load) and wall time, CPU per task,
and the ratios that matter, with the machine's load average over the rounds.

Runs in the `benchmarks` resolve (Airflow pins + astronomer-cosmos):
  ./pants package dbt:synthetic-build && ./pants run dbt:cosmos-benchmark [-- --models 500 2000]
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.synthetic_pex import build_with_pex

Builder = Callable[[], int]  # builds one DAG, returns its task count
DBT_MANIFEST, SLIM_MANIFEST = "manifest.json", "slim-manifest.json"
CONN_ID = "databricks_default"
JOB_CLUSTERS = [{"job_cluster_key": "main", "new_cluster": {"spark_version": "15.4.x"}}]
WHEEL = "/Volumes/bench/wheels/dbt_runner-0.1.0-py3-none-any.whl"
START = datetime(2025, 1, 1, tzinfo=UTC)

OURS, OURS_SLIM = "ours, dbt's manifest.json", "ours, shipped slim manifest"
COSMOS, COSMOS_SLIM = "cosmos BUILD, dbt's manifest.json", "cosmos BUILD, slim manifest"
COSMOS_DEFAULT = "cosmos default, dbt's manifest.json"
FLOOR_EMPTY, FLOOR_TASKS = "floor: EmptyOperators", "floor: DatabricksTaskOperators"
FLOOR_GROUPS = "floor: DatabricksTaskOperators in groups"


def ours_dag(manifest: Path):
    from airflow.sdk import DAG

    from dataplatform.dbt_manifest import DbtWorkflowConfig, dbt_workflow

    config = DbtWorkflowConfig(
        databricks_conn_id=CONN_ID,
        job_clusters=JOB_CLUSTERS,
        wheel=WHEEL,
        target="prod",
        environment="prod",
        run_timeout_seconds=3600,
        min_deferral_seconds=30,
    )
    with DAG("bench_ours", schedule=None, start_date=START) as dag:
        dbt_workflow(manifest, config)
    return dag


def cosmos_dag(built: Path, manifest_name: str, test_behavior_name: str | None):
    """A cosmos DbtDag; `test_behavior_name` None keeps cosmos' default."""
    from cosmos import DbtDag, LoadMode, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import TestBehavior

    render = {"load_method": LoadMode.DBT_MANIFEST}
    if test_behavior_name:
        render["test_behavior"] = TestBehavior[test_behavior_name]
    project = built / "project"
    return DbtDag(
        dag_id="bench_cosmos",
        schedule=None,
        start_date=START,
        project_config=ProjectConfig(
            dbt_project_path=project, manifest_path=built / manifest_name, project_name="synthetic"
        ),
        profile_config=ProfileConfig(
            profile_name="dataplatform",
            target_name="local",
            profiles_yml_filepath=project / "profiles.yml",
        ),
        render_config=RenderConfig(**render),
    )


@dataclass(frozen=True)
class Shape:
    """Ours' DAG reduced to what Airflow itself builds: task ids and their upstream ids."""

    upstream: dict[str, tuple[str, ...]]  # every task, in creation order
    # Per task group: its member tasks (ids within the group, launch excluded) and their
    # upstream members; the provider's group adds launch and its edges itself.
    jobs: dict[str, dict[str, tuple[str, ...]]]


def shape_of(dag) -> Shape:
    jobs: dict[str, dict[str, tuple[str, ...]]] = {}
    for task in dag.tasks:
        prefix = f"{task.task_group.group_id}."
        if task.task_id == f"{prefix}launch":
            continue
        inside = sorted(p for p in task.upstream_task_ids if p.startswith(prefix))
        jobs.setdefault(prefix[:-1], {})[task.task_id.removeprefix(prefix)] = tuple(
            p.removeprefix(prefix) for p in inside if p != f"{prefix}launch"
        )
    return Shape({t.task_id: tuple(sorted(t.upstream_task_ids)) for t in dag.tasks}, jobs)


def wire(tasks: Mapping[str, object], upstream: Mapping[str, Sequence[str]]) -> None:
    """The edges, recorded as the renderer records them (`dbt_manifest._set_upstream`)."""
    for task_id, parents in upstream.items():
        for parent in parents:
            tasks[parent].downstream_task_ids.add(tasks[task_id].task_id)
            tasks[task_id].upstream_task_ids.add(tasks[parent].task_id)


def databricks_task(task_id: str):
    from airflow.providers.databricks.operators.databricks import DatabricksTaskOperator

    return DatabricksTaskOperator(
        task_id=task_id,
        task_config={
            "python_wheel_task": {"package_name": "dbt_runner", "entry_point": "dbt-runner",
                                  "parameters": ["build", "--select", task_id]},
            "libraries": [{"whl": WHEEL}],
        },
        job_cluster_key="main",
        databricks_conn_id=CONN_ID,
    )


def floor_dag(shape: Shape, make_task: Callable[[str], object]):
    from airflow.sdk import DAG

    with DAG("bench_floor", schedule=None, start_date=START) as dag:
        tasks = {task_id: make_task(task_id) for task_id in shape.upstream}
        wire(tasks, shape.upstream)
    return dag


def grouped_floor_dag(shape: Shape):
    from airflow.providers.databricks.operators.databricks_workflow import (
        DatabricksWorkflowTaskGroup,
    )
    from airflow.sdk import DAG

    with DAG("bench_floor", schedule=None, start_date=START) as dag:
        for group_id, members in shape.jobs.items():
            with DatabricksWorkflowTaskGroup(
                group_id=group_id, databricks_conn_id=CONN_ID, job_clusters=JOB_CLUSTERS
            ):
                wire({task_id: databricks_task(task_id) for task_id in members}, members)
        # Jobs after jobs: the leaves of a group upstream of a later group's launch.
        launches = {t: ups for t, ups in shape.upstream.items() if t.endswith(".launch")}
        wire(dag.task_dict, launches)
    return dag


def builders(built: Path) -> dict[str, Builder]:
    from airflow.providers.standard.operators.empty import EmptyOperator

    shape = shape_of(ours_dag(built / SLIM_MANIFEST))

    def tasks_of(make_dag: Callable[[], object]) -> Builder:
        return lambda: len(make_dag().tasks)

    return {
        OURS: tasks_of(lambda: ours_dag(built / DBT_MANIFEST)),
        OURS_SLIM: tasks_of(lambda: ours_dag(built / SLIM_MANIFEST)),
        COSMOS: tasks_of(lambda: cosmos_dag(built, DBT_MANIFEST, "BUILD")),
        COSMOS_SLIM: tasks_of(lambda: cosmos_dag(built, SLIM_MANIFEST, "BUILD")),
        COSMOS_DEFAULT: tasks_of(lambda: cosmos_dag(built, DBT_MANIFEST, None)),
        FLOOR_EMPTY: tasks_of(lambda: floor_dag(shape, lambda i: EmptyOperator(task_id=i))),
        FLOOR_TASKS: tasks_of(lambda: floor_dag(shape, databricks_task)),
        FLOOR_GROUPS: tasks_of(lambda: grouped_floor_dag(shape)),
    }


@dataclass
class Timings:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    tasks: int = 0

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.cpu) * 1000

    @property
    def wall_ms(self) -> float:
        return statistics.median(self.wall) * 1000


def time_interleaved(
    named: dict[str, Builder], repeats: int
) -> tuple[dict[str, Timings], list[float]]:
    """Per builder its timings, and the 1-minute load average before each round."""
    results = {name: Timings() for name in named}
    loads = []
    names = list(named)
    for round_ in range(repeats + 1):  # round 0 warms up
        loads.append(os.getloadavg()[0])
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            gc.collect()  # the previous DAG's garbage is not this build's work
            wall, cpu = time.perf_counter(), time.process_time()
            tasks = named[name]()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if round_:
                results[name].tasks = tasks
                results[name].wall.append(wall)
                results[name].cpu.append(cpu)
        if not round_:
            # As the dag-processor before it forks a parse (airflow/dag_processing/manager.py):
            # the imported modules out of the garbage collector's reach.
            gc.collect()
            gc.freeze()
        print(f"  round {round_ + 1}/{repeats + 1} done, load average {loads[-1]:.1f}"
              f"{' (warm-up)' if not round_ else ''}", flush=True)
    return results, loads


def report(models: int, results: dict[str, Timings], loads: list[float]) -> None:
    def ratio(slow: str, fast: str) -> str:
        cpu = results[slow].cpu_ms / results[fast].cpu_ms
        wall = results[slow].wall_ms / results[fast].wall_ms
        return f"{cpu:.1f}x CPU, {wall:.1f}x wall"

    print(f"\n{models} models: medians of the rounds, load average {min(loads):.1f}-"
          f"{max(loads):.1f} on {os.cpu_count()} cores")
    print(f"  {'builder':<42} {'tasks':>5} {'cpu ms':>8} {'wall ms':>8} {'cpu us/task':>11}")
    for name, timing in results.items():
        print(f"  {name:<42} {timing.tasks:>5} {timing.cpu_ms:>8.1f} {timing.wall_ms:>8.1f} "
              f"{timing.cpu_ms * 1000 / timing.tasks:>11.0f}")
    print("  cosmos BUILD (like-for-like: a task per model) / ours, CPU and wall:")
    print(f"    as deployed (cosmos from dbt's manifest.json, ours from the shipped slim "
          f"manifest): {ratio(COSMOS, OURS_SLIM)}")
    print(f"    both from dbt's manifest.json: {ratio(COSMOS, OURS)}")
    print(f"    both from the slim manifest: {ratio(COSMOS_SLIM, OURS_SLIM)}")
    print(f"  cosmos default (dbt's manifest.json) / ours (slim manifest): "
          f"{ratio(COSMOS_DEFAULT, OURS_SLIM)}")
    print("  ceiling, cosmos BUILD over each floor (no renderer of these operators can beat it):")
    for floor in (FLOOR_EMPTY, FLOOR_TASKS, FLOOR_GROUPS):
        print(f"    {floor}: from dbt's manifest.json {ratio(COSMOS, floor)}; "
              f"from the slim manifest {ratio(COSMOS_SLIM, floor)}")
    own = results[OURS_SLIM].cpu_ms - results[FLOOR_GROUPS].cpu_ms
    print(f"  ours (slim manifest) over its operators' floor (in groups): {own:+.1f} ms CPU "
          f"(manifest, plan, payloads); the floor is "
          f"{results[FLOOR_GROUPS].cpu_ms / results[OURS_SLIM].cpu_ms:.0%} of ours")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--build-pex",
        type=Path,
        default=Path("dist/dbt/synthetic-build.pex"),
        help="the dbt:synthetic-build PEX (`./pants package dbt:synthetic-build`)",
    )
    args = parser.parse_args()
    logging.getLogger("cosmos").setLevel(logging.WARNING)  # it logs a line per rendered task

    with tempfile.TemporaryDirectory(prefix="cosmos-compare-") as tmp:
        for models in args.models:
            built = build_with_pex(args.build_pex.resolve(), models, Path(tmp) / str(models))
            print(f"{models} models: manifest.json "
                  f"{(built / DBT_MANIFEST).stat().st_size / 1e6:.1f} MB, shipped slim "
                  f"manifest {(built / SLIM_MANIFEST).stat().st_size / 1e6:.1f} MB; "
                  f"{args.repeats} rounds of builds after a warm-up round ...", flush=True)
            report(models, *time_interleaved(builders(built), args.repeats))


if __name__ == "__main__":
    main()
