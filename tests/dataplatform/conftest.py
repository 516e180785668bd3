"""Keep Airflow (imported by the lib's operators and callbacks) out of the user's home; render a
synthetic dbt project as the model-level DAG and read back the Jobs API payloads its workflow
groups send (``jobs/create``), for the tests of the job split."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from support.airflow_home import remove_temporary_home, use_temporary_home

from dataplatform.dbt_jobs import JobLimits
from dataplatform.synthetic_dbt import write_manifest

WHEEL = "/Volumes/main/dataplatform/wheels/dbt_runner-0.1.0-py3-none-any.whl"
CLUSTER = {
    "job_cluster_key": "main",
    "new_cluster": {"spark_version": "16.4.x-scala2.12", "node_type_id": "i3.xlarge",
                    "num_workers": 0},
}


@dataclass(frozen=True)
class RenderedJob:
    group_id: str
    payload: dict  # what the group's launch task sends to jobs/create
    task_ids: dict[str, str]  # Databricks task_key -> Airflow task id (<group>.<model name>)
    upstream_task_ids: frozenset[str]  # every Airflow task that runs before its launch


def synthetic_manifest(tmp_path: Path, models: int) -> Path:
    return write_manifest(tmp_path / f"manifest-{models}.json", models)


def workflow_config(job_clusters: list[dict] | None = None, **overrides: Any):
    """The model-level DAG's settings for the test environment, with ``overrides``."""
    from dataplatform.dbt_manifest import DbtWorkflowConfig

    return DbtWorkflowConfig(
        databricks_conn_id="databricks_test",
        job_clusters=job_clusters or [CLUSTER],
        wheel=WHEEL,
        target="test",
        environment="test",
        run_timeout_seconds=3600,
        min_deferral_seconds=30,
        **overrides,
    )


def render(
    manifest: Path, limits: JobLimits | None = None, models_per_task: int = 1
) -> tuple[Any, list[RenderedJob]]:
    """(the DAG, its jobs) of the model-level DAG of ``manifest``."""
    # Airflow reads its home when first imported: only once pytest_configure has set it.
    from airflow.sdk import DAG

    from dataplatform.dbt_manifest import dbt_workflow

    config = workflow_config(limits=limits or JobLimits(), models_per_task=models_per_task)
    with DAG("dbt_models", schedule=None, start_date=datetime(2025, 1, 1, tzinfo=UTC)) as dag:
        groups = dbt_workflow(manifest, config)
    jobs = []
    for group in groups:
        launch = dag.get_task(f"{group.group_id}.launch")
        members = [t for t in group.children.values() if t is not launch]
        jobs.append(
            RenderedJob(
                group.group_id,
                launch.create_workflow_json(),
                {t.databricks_task_key: t.task_id for t in members},
                frozenset(launch.get_flat_relative_ids(upstream=True)),
            )
        )
    return dag, jobs


def pytest_configure(config):
    use_temporary_home()
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"



def pytest_unconfigure(config):
    remove_temporary_home()
