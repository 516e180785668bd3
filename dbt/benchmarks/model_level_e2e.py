"""End to end: a synthetic dbt project through the model-level DAG on the local emulator.

Builds the synthetic project (default 300 models, `dataplatform.synthetic_dbt`) into a
dbt-runner wheel and its slim manifest (the `dbt:synthetic-build` PEX), starts the emulator,
publishes the wheel the way the local stack does, writes the `raw` source tables the staging
models read (as ingestion does before dbt), and runs the project's own model-level DAG
(`airflow/dags/dbt_runs/dbt_models.py`, the `local` environment, `DATAPLATFORM_DBT_MANIFEST` and
`DATAPLATFORM_DBT_RUNNER_WHEEL` pointing at the build) once with `dag.test()`: one Databricks
job, a task per model, or per group of models with `--models-per-task N` (the environment's
`dbt.models_per_task`, see `dataplatform.dbt_grouping`). It prints the wall time of the DAG
run, the job run's time, per task its time (process start to exit), per model the overhead
(the tasks' time minus the SQL dbt reports in run_results.json, over the models), the peak
number of tasks running at once, the emulator's cluster starts and cluster-seconds (its usage
endpoint), the CPU seconds of the emulator with its task processes and of Airflow, and the load
average before and after: on a shared machine wall times follow the load, CPU seconds much less.

  ./pants package libs/local_databricks:emulator dbt/runner:unversioned-wheel \\
      dbt:synthetic-build && ./pants run dbt:e2e-benchmark [-- --models 300 --models-per-task 40]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
from collections import Counter
import time
from datetime import UTC, datetime
from pathlib import Path

from dataplatform.synthetic_dbt import widest_layer

from benchmarks.synthetic_pex import build_with_pex

DAGS_FOLDER = Path("airflow/dags")
DAG_FILE = DAGS_FOLDER / "dbt_runs" / "dbt_models.py"
DAG_ID = "dbt_daily_models"
JOB_NAME = f"local.{DAG_ID}.dbt"  # <environment>.<dag_id>.<group_id>
LOGICAL_DATE = datetime(2025, 6, 1, tzinfo=UTC)
WAREHOUSE_ID = "10ca1da7aba5e001"  # the emulator's SQL warehouse
SOURCE_ROWS = ", ".join(f"({i})" for i in range(1, 11))  # ids every model joins and tests on


def use_models_per_task(models_per_task: int) -> None:
    """The `local` environment as the DAG file loads it, with `dbt.models_per_task` set."""
    from dataplatform import config

    packaged = config.load_environment("local")
    dbt = packaged.dbt.model_copy(update={"models_per_task": models_per_task})
    local = packaged.model_copy(update={"dbt": dbt})
    load_packaged = config._load_packaged
    config._load_packaged = lambda name: local if name == "local" else load_packaged(name)


def load_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=DAG_FILE.resolve(), bundle_path=DAGS_FOLDER.resolve())
    if bag.import_errors or DAG_ID not in bag.dags:
        raise SystemExit(f"{DAG_FILE} did not load: {bag.import_errors}")
    return bag.dags[DAG_ID]


def report_progress(workspace, stop: threading.Event, every: float = 20.0) -> None:
    """Print every `every` seconds how many tasks of the job's run have finished."""
    started = time.monotonic()
    while not stop.wait(every):
        runs = [r for job in workspace.jobs.list(name=JOB_NAME)
                for r in workspace.jobs.list_runs(job_id=job.job_id)]
        if runs:
            tasks = workspace.jobs.get_run(runs[0].run_id).tasks or []
            done = sum(1 for t in tasks
                       if t.state and t.state.life_cycle_state.value == "TERMINATED")
            print(f"  {time.monotonic() - started:5.0f} s: {done}/{len(tasks)} Databricks tasks "
                  "done", flush=True)


def write_source_tables(workspace, manifest: Path) -> int:
    """Each source table of dbt's `manifest` as a Delta table of ids 1..10; returns how many."""
    sources = json.loads(manifest.read_text())["sources"].values()
    statements = [f"CREATE SCHEMA IF NOT EXISTS {s}" for s in {s["schema"] for s in sources}]
    for source in sources:
        table = f"{source['schema']}.{source['identifier']}"
        statements += [f"CREATE OR REPLACE TABLE {table} (id BIGINT) USING delta",
                       f"INSERT INTO {table} VALUES {SOURCE_ROWS}"]
    for statement in statements:
        response = workspace.statement_execution.execute_statement(statement, WAREHOUSE_ID)
        if response.status.state.value != "SUCCEEDED":
            raise SystemExit(f"{statement} failed: {response.status.error}")
    return len(sources)


def peak_concurrency(intervals: list[tuple[int, int]]) -> int:
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def sql_seconds(state_dir: Path) -> list[float]:
    """dbt's own time per model task (run_results.json of each run the runner saved)."""
    return [
        sum(r["execution_time"] for r in json.loads(path.read_text())["results"])
        for path in state_dir.glob("driver-home/.dataplatform/dbt-runs/*build*/run_results.json")
    ]


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and of its children it has waited for (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=300)
    parser.add_argument("--models-per-task", type=int, default=1,
                        help="dbt.models_per_task of the run (default 1: a task per model)")
    parser.add_argument("--build-pex", type=Path, default=Path("dist/dbt/synthetic-build.pex"))
    parser.add_argument("--emulator-pex", type=Path,
                        default=Path("dist/libs.local_databricks/emulator.pex"))
    parser.add_argument("--runner-wheel-dir", type=Path,
                        default=Path("dist/dbt/runner/unversioned"),
                        help="holds the dbt/runner:unversioned-wheel wheel")
    parser.add_argument("--work-dir", type=Path,
                        help="keep the build, emulator state and logs here (default: a temporary "
                        "directory, deleted)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dbt-e2e-") as tmp:
        root = args.work_dir.resolve() if args.work_dir else Path(tmp)
        built = build_with_pex(args.build_pex.resolve(), args.models, root / "build",
                               args.runner_wheel_dir.resolve())
        (wheel,) = (built / "wheel").glob("*.whl")
        from local_stack.airflow_home import airflow_environment

        os.environ.update(airflow_environment(root / "airflow", DAGS_FOLDER.resolve()))
        os.environ.update({
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "DATAPLATFORM_DBT_MANIFEST": str(built / "slim-manifest.json"),
            "DATAPLATFORM_DBT_RUNNER_WHEEL": wheel.name,
        })
        use_models_per_task(args.models_per_task)
        run(args.models, args.models_per_task, wheel, built / "manifest.json",
            args.emulator_pex.resolve(), root)


def run(models: int, models_per_task: int, wheel: Path, manifest: Path, emulator_pex: Path,
        root: Path) -> None:
    from databricks.sdk import WorkspaceClient
    from dataplatform.dags import dag_test
    from local_stack.airflow_home import databricks_connection, migrate_database
    from local_stack.emulator_process import EmulatorProcess
    from local_stack.publish import publish

    state_dir = root / "databricks"
    process = EmulatorProcess(emulator_pex, state_dir, root / "emulator.log")
    with process as emulator:
        os.environ.update(databricks_connection(emulator))
        print(f"emulator: {publish(emulator, [], [wheel])}", flush=True)
        migrate_database()
        dag = load_dag()
        workspace = WorkspaceClient(host=emulator.url, token=emulator.token, auth_type="pat")
        print(f"wrote {write_source_tables(workspace, manifest)} source tables", flush=True)
        usage_before = emulator.usage()
        stop = threading.Event()
        threading.Thread(target=report_progress, args=(workspace, stop), daemon=True).start()
        print(f"running {DAG_ID} ({len(dag.tasks)} Airflow tasks) with dag.test() ...", flush=True)
        load_before = os.getloadavg()[0]
        started, emulator_cpu = time.monotonic(), cpu_seconds(process.process.pid)
        airflow_cpu = time.process_time()
        dag_run = dag_test(dag, logical_date=LOGICAL_DATE)
        wall = time.monotonic() - started
        airflow_cpu = time.process_time() - airflow_cpu
        emulator_cpu = cpu_seconds(process.process.pid) - emulator_cpu
        stop.set()
        usage = emulator.usage()
        (job,) = workspace.jobs.list(name=JOB_NAME)
        (job_run,) = workspace.jobs.list_runs(job_id=job.job_id)
        tasks = workspace.jobs.get_run(job_run.run_id).tasks
        sql = sql_seconds(state_dir)

    intervals = [(t.start_time, t.end_time) for t in tasks if t.start_time and t.end_time]
    durations = [(end - start) / 1000 for start, end in intervals]
    job_seconds = (max(e for _, e in intervals) - min(s for s, _ in intervals)) / 1000
    outcomes = Counter(t.state.result_state.value for t in tasks)
    succeeded = outcomes["SUCCESS"]
    starts = usage["cluster_starts"] - usage_before["cluster_starts"]
    cluster_seconds = usage["cluster_seconds"] - usage_before["cluster_seconds"]
    print(f"\n{models}-model synthetic project through {DAG_FILE} on the emulator, "
          f"{models_per_task} model(s) per task:")
    print(f"  DAG run {dag_run.state} in {wall:.0f} s wall ({wall / 60:.1f} min), "
          f"{len(dag.tasks)} Airflow tasks")
    print(f"  Databricks job run: {len(tasks)} tasks in {job_seconds:.0f} s, "
          f"{', '.join(f'{n} {state}' for state, n in outcomes.most_common())}; at most "
          f"{peak_concurrency(intervals)} tasks at once (the graph's widest layer: "
          f"{widest_layer(models)} models)")
    print(f"  per task: median {statistics.median(durations):.1f} s, mean "
          f"{statistics.mean(durations):.1f} s; per model: {sum(durations) / models:.2f} s of "
          f"task time, of which dbt's SQL {sum(sql) / models:.2f} s: overhead "
          f"{(sum(durations) - sum(sql)) / models:.2f} s per model ({len(sql)} run_results)")
    print(f"  cluster starts {starts}, cluster-seconds {cluster_seconds:.0f}")
    per_task_cpu = emulator_cpu / max(succeeded, 1)
    print(f"  CPU: emulator + task processes {emulator_cpu:.0f} s ({per_task_cpu:.1f} s per "
          f"successful task, {emulator_cpu / models:.2f} s per model), Airflow (dag.test) "
          f"{airflow_cpu:.0f} s: {(emulator_cpu + airflow_cpu) / 2 / 60:.1f} min of 2 cores; "
          f"load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
