"""The local stack for tests, headless on loopback: the emulator with the project's notebooks and
dbt-runner wheel, and Airflow's api-server, scheduler, dag-processor and triggerer on a fresh
SQLite home, plus a REST client (`stack.api`). Tests that drive Airflow as MWAA runs it use it:

    with headless_stack(tmp_path) as stack:
        stack.api.trigger("notebook_orders_ingest", None)

The test target needs `libs/local_databricks:emulator`, `dbt/runner:wheel` and
`dbt/runner:manifest` as runtime package dependencies (and the DAG files); run by hand, the
artifacts come from dist/ (`./pants package` them first).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from local_stack.stack import RunningStack, StackConfig, local_stack

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "airflow" / "dags"
PROJECT_DAGS = ("generic_xcom_handoff", "notebook_orders_ingest", "workflow_orders_daily",
                "dbt_daily_build", "dbt_daily_models", "job_raw_checks")
BUILD_HINT = ("./pants package libs/local_databricks:emulator dbt/runner:wheel "
              "dbt/runner:manifest")


def artifact(relative: str) -> Path:
    """A packaged artifact: at its dist-relative path in the Pants sandbox, else in dist/."""
    for candidate in (Path(relative), REPO / "dist" / relative):
        if candidate.is_file():
            return candidate.resolve()
    raise FileNotFoundError(f"{relative} is not built: run `{BUILD_HINT}`")


@contextmanager
def headless_stack(state_dir: Path, dag_ids: tuple[str, ...] = PROJECT_DAGS
                   ) -> Iterator[RunningStack]:
    """Everything started and `dag_ids` parsed; every process stopped on exit. Progress and
    the log folder are printed (pytest shows them for a failed test)."""
    wheel = artifact("dbt-runner/" + artifact("dbt-runner/wheel-name.txt").read_text().strip())
    config = StackConfig(
        emulator_pex=artifact("libs.local_databricks/emulator.pex"),
        state_dir=state_dir,
        dags_folder=DAGS_FOLDER,
        notebooks=sorted((REPO / "notebooks").glob("*.py")),
        wheels=[wheel],
        env={"DATAPLATFORM_DBT_MANIFEST": str(artifact("dbt-manifest/manifest.json")),
             "DATAPLATFORM_DBT_RUNNER_WHEEL": wheel.name},
    )
    with local_stack(config, progress=lambda line: print(f"local stack: {line}")) as stack:
        stack.wait_for_dags(dag_ids)
        yield stack
