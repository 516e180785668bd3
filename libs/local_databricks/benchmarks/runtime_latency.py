"""Cluster runtime benchmark of the local Databricks emulator.

Starts the emulator on 127.0.0.1 with a fresh state dir and a fresh uv cache, then prints:
- submit latency: from runs/submit to the run showing RUNNING, to the task's code starting, and
  to the run's end, for a trivial notebook on a fresh job cluster (median of --repeats);
- library install time per library: the first install (empty uv cache: downloads) and a
  repeated install on a new cluster (cached), as recorded in the emulator's usage ledger.

    ./pants run libs/local_databricks:runtime-benchmark -- --repeats 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import requests
from benchmarks.emulator_server import start_emulator, stop_emulator
from databricks.sdk import WorkspaceClient
from databricks.sdk.service import compute, jobs
from databricks.sdk.service.workspace import ImportFormat, Language

SPARK_VERSION = "16.4.x-scala2.12"
NOTEBOOK = "/Shared/benchmark/started_at"
TERMINAL = ("TERMINATED", "INTERNAL_ERROR", "SKIPPED")


def submit(client: WorkspaceClient, libraries: list[compute.Library]) -> int:
    return client.jobs.submit(
        run_name="benchmark",
        tasks=[
            jobs.SubmitTask(
                task_key="nb",
                notebook_task=jobs.NotebookTask(NOTEBOOK),
                libraries=libraries or None,
                new_cluster=compute.ClusterSpec(
                    spark_version=SPARK_VERSION, node_type_id="i3.xlarge", num_workers=1
                ),
            )
        ],
    ).response.run_id


def wait(client: WorkspaceClient, run_id: int, states: tuple[str, ...]) -> jobs.Run:
    while True:
        run = client.jobs.get_run(run_id)
        if run.state.life_cycle_state.value in states:
            return run
        time.sleep(0.02)


def submit_latency(client: WorkspaceClient) -> tuple[float, float, float]:
    """Seconds from submit to RUNNING, to the task's code starting, and to the run's end."""
    submitted = time.time()
    run_id = submit(client, [])
    running = wait(client, run_id, ("RUNNING", *TERMINAL))
    to_running = time.time() - submitted
    run = wait(client, run_id, TERMINAL)
    to_end = time.time() - submitted
    if run.state.result_state != jobs.RunResultState.SUCCESS:
        raise SystemExit(f"benchmark run failed: {run.state.state_message} ({running.state})")
    started_at = float(client.jobs.get_run_output(run.tasks[0].run_id).notebook_output.result)
    return to_running, started_at - submitted, to_end


def install_seconds(client: WorkspaceClient, info: dict, library: compute.Library) -> float:
    run = wait(client, submit(client, [library]), TERMINAL)
    if run.state.result_state != jobs.RunResultState.SUCCESS:
        raise SystemExit(f"install of {library.as_dict()} failed: {run.state.state_message}")
    usage = requests.get(
        f"{info['url']}/emulator/usage",
        params={"run_id": run.run_id},
        headers={"Authorization": f"Bearer {info['token']}"},
        timeout=10,
    ).json()
    return sum(cluster["library_install_seconds"] for cluster in usage["clusters"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--pypi", action="append", help="PyPI requirement to install (repeatable); "
        "default: humanize==4.12.3 and dbt-core==1.11.* (about 30 packages)",
    )
    args = parser.parse_args()
    packages = args.pypi or ["humanize==4.12.3", "dbt-core==1.11.*"]
    with tempfile.TemporaryDirectory(prefix="emulator-benchmark-") as tmp:
        state_dir = Path(tmp)
        proc, info = start_emulator(
            state_dir, env=os.environ | {"UV_CACHE_DIR": str(state_dir / "uv-cache")}
        )
        try:
            client = WorkspaceClient(host=info["url"], token=info["token"])
            source = (
                "# Databricks notebook source\n"
                "import time\ndbutils.notebook.exit(str(time.time()))\n"
            )
            client.workspace.upload(
                NOTEBOOK,
                source.encode(),
                format=ImportFormat.SOURCE, language=Language.PYTHON, overwrite=True,
            )
            samples = [submit_latency(client) for _ in range(args.repeats)]
            print(f"runtime {SPARK_VERSION}, {args.repeats} runs, median seconds from runs/submit:")
            for index, label in enumerate(("RUNNING", "task code started", "run ended")):
                print(f"  {label:<18} {statistics.median(s[index] for s in samples):7.3f}")
            print("library install seconds (fresh cluster each; uv cache empty at first):")
            for package in packages:
                library = compute.Library(pypi=compute.PythonPyPiLibrary(package))
                first = install_seconds(client, info, library)
                cached = install_seconds(client, info, library)
                print(f"  {package:<24} first {first:7.3f}   cached {cached:7.3f}")
        finally:
            stop_emulator(proc)


if __name__ == "__main__":
    main()
