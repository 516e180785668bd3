"""Two dbt models per task (``dbt.models_per_task``) on the emulator: the grouped job builds the
project green, and a failure in a group names the model that failed while the group's other
model is still built (models of one group never depend on each other); a test of two models of
one group runs in that group (dbt's cautious selection picks it).

The DAG (dags/e2e_dbt_grouped_dag.py) groups the six daily nodes into four tasks: the four
nodes at depth 1, two per task, then ``orders`` and ``customers`` alone.
"""

from __future__ import annotations

from datetime import timedelta

from dataplatform.dags import dag_test

import test_e2e_model_repair as repair  # pants: no-infer-dep (a test module: see BUILD)

DAG_ID = "e2e_dbt_grouped_models"
CATALOG = "e2e_grouped"
FAILING_GROUP = "project__depth_1_part_1"  # stg_raw__customers and stg_raw__orders


def test_grouped_models_build_and_a_failure_names_its_model(workspace, notebook, e2e_dags):
    workspace.catalogs.create(CATALOG)
    workspace.schemas.create("raw", CATALOG)
    dag = e2e_dags[DAG_ID]
    assert set(dag.task_ids) == {"dbt.launch", "dbt.project__depth_1_part_1",
                                 "dbt.project__depth_1_part_2", "dbt.orders", "dbt.customers"}

    # A raw customer without an id: the not_null test of stg_raw__customers fails.
    bad = {**repair.RAW_ROWS, "customers": repair.customers("NULL")}
    repair.write_raw_tables(workspace, notebook, bad, CATALOG)
    failed_run = dag_test(dag, logical_date=repair.LOGICAL_DATE)

    assert repair.task_states(failed_run) == {
        "launch": "success", FAILING_GROUP: "failed", "project__depth_1_part_2": "success",
        "orders": "upstream_failed", "customers": "upstream_failed"}
    (job,) = workspace.jobs.list(name=f"local.{DAG_ID}.dbt")
    (job_run,) = workspace.jobs.list_runs(job_id=job.job_id)
    key = dag.get_task(f"dbt.{FAILING_GROUP}").databricks_task_key
    (task,) = (t for t in workspace.jobs.get_run(job_run.run_id).tasks if t.task_key == key)
    assert "not_null_stg_raw__customers_customer_id (of model stg_raw__customers)" in (
        task.state.state_message)
    # The group's other model was built all the same (its own relationships test failed).
    built = workspace.jobs.get_run_output(task.run_id).logs.splitlines()
    assert ["model", "stg_raw__orders", "success"] in [line.split()[:3] for line in built]

    repair.write_raw_tables(workspace, notebook, {"customers": repair.customers("2")}, CATALOG)
    dag_run = dag_test(dag, logical_date=repair.LOGICAL_DATE + timedelta(days=1))

    assert str(dag_run.state) == "success"
    assert set(repair.task_states(dag_run).values()) == {"success"}
    count = f"dbutils.notebook.exit(str(spark.table('{CATALOG}.analytics.customers').count()))"
    assert repair.run_notebook(workspace, notebook, "count_customers", count) == "2"
