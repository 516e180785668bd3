"""Airflow DAG: the environment's dbt selection, one task per model, as one Databricks job
(``<env>.dbt_daily_models.dbt``) on one shared single-node cluster; a selection past
Databricks' limits becomes several jobs (``dbt_1``, ``dbt_2``...) and clusters, chained in
dependency order (``./pants run libs/dataplatform:dbt-plan -- plan --manifest PATH`` prints them).

Its tasks get no Airflow retries: a failed model is re-run by repairing the Databricks job run
and clearing the failed tasks (not ``dbt.launch``), see dataplatform.workflow_group. The tasks
come from the dbt manifest the build ships beside this file. Runs after dbt_daily_build (Asset),
never at the same time on the same tables.
"""

from dataplatform import load_environment
from dataplatform.assets import dbt_build
from dataplatform.dags import platform_dag
from dataplatform.dbt_manifest import bundled_manifest, bundled_runner_wheel
from dataplatform.operators import dbt_models_workflow

env = load_environment()

with platform_dag("dbt_daily_models", env, schedule=[dbt_build(env)], tags=["databricks", "dbt"]):
    dbt_models_workflow(env, bundled_manifest(__file__), bundled_runner_wheel(__file__))
