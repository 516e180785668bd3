"""Cluster specs and a terminal-state wait for the runtime tests."""

from __future__ import annotations

import time

from databricks.sdk import WorkspaceClient
from databricks.sdk.service import compute, jobs

TERMINAL = {
    jobs.RunLifeCycleState.TERMINATED,
    jobs.RunLifeCycleState.INTERNAL_ERROR,
    jobs.RunLifeCycleState.SKIPPED,
}


def new_cluster(spark_version: str, **spark_env_vars: str) -> compute.ClusterSpec:
    return compute.ClusterSpec(
        spark_version=spark_version,
        node_type_id="i3.xlarge",
        num_workers=1,
        spark_env_vars=spark_env_vars or None,
    )


def wait_terminal(client: WorkspaceClient, run_id: int, timeout: float = 280) -> jobs.Run:
    """The run once it is over, whether it ran (TERMINATED) or could not (INTERNAL_ERROR)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.jobs.get_run(run_id)
        if run.state.life_cycle_state in TERMINAL:
            return run
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s")
