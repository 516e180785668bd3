"""The model-level dbt DAG with two models per task (``dbt.models_per_task``) over the six daily
nodes of the dbt project (dbt_repair_manifest.json), in a catalog of its own
(tests/e2e/test_e2e_grouped_models.py)."""

import os
from pathlib import Path

from dataplatform import load_environment
from dataplatform.dags import platform_dag
from dataplatform.dbt_manifest import bundled_runner_wheel
from dataplatform.operators import dbt_models_workflow

CATALOG = "e2e_grouped"  # the test creates it, with the raw tables the models read
MANIFEST = Path(__file__).with_name("dbt_repair_manifest.json")
# Its own directory for dbt's external tables (see e2e_dbt_repair_dag.py).
WAREHOUSE_DIR = str(Path(os.environ.get("AIRFLOW_HOME", "/tmp")) / "e2e-grouped-warehouse")

local = load_environment("local")
env = local.model_copy(update={
    "unity_catalog": local.unity_catalog.model_copy(update={"catalog": CATALOG}),
    "dbt": local.dbt.model_copy(update={"models_per_task": 2}),
})

with platform_dag("e2e_dbt_grouped_models", env, schedule=(), tags=["e2e"]):  # manual runs
    (group,) = dbt_models_workflow(env, MANIFEST, bundled_runner_wheel(__file__))
    for cluster in group.children[f"{group.group_id}.launch"].job_clusters:
        cluster["new_cluster"]["spark_env_vars"]["DBT_WAREHOUSE_DIR"] = WAREHOUSE_DIR
