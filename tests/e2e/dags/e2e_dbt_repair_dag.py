"""The model-level dbt DAG as the project renders it (``dbt_models_workflow``), over six daily
nodes of the dbt project (dbt_repair_manifest.json), in a catalog of its own so its raw tables
are the test's alone (tests/e2e/test_e2e_model_repair.py)."""

import os
from pathlib import Path

from dataplatform import load_environment
from dataplatform.dags import platform_dag
from dataplatform.dbt_manifest import bundled_runner_wheel
from dataplatform.operators import dbt_models_workflow

CATALOG = "e2e_repair"  # the test creates it, with the raw tables the models read
MANIFEST = Path(__file__).with_name("dbt_repair_manifest.json")
# dbt's local tables are external Delta tables located by table name only: their own directory,
# so they never share files with the same-named tables other tests build in hive_metastore.
WAREHOUSE_DIR = str(Path(os.environ.get("AIRFLOW_HOME", "/tmp")) / "e2e-repair-warehouse")

local = load_environment("local")
env = local.model_copy(
    update={"unity_catalog": local.unity_catalog.model_copy(update={"catalog": CATALOG})}
)

with platform_dag("e2e_dbt_model_repair", env, schedule=(), tags=["e2e"]):  # manual runs
    (group,) = dbt_models_workflow(env, MANIFEST, bundled_runner_wheel(__file__))
    for cluster in group.children[f"{group.group_id}.launch"].job_clusters:
        cluster["new_cluster"]["spark_env_vars"]["DBT_WAREHOUSE_DIR"] = WAREHOUSE_DIR
