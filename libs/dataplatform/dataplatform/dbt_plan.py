"""Print how the model-level dbt DAG splits a manifest into Databricks jobs and clusters.

  ./pants run libs/dataplatform:dbt-plan -- plan --manifest PATH [--environment prod]

With ``--environment`` the selection (``dbt.select``), ``dbt.parallel_tasks_per_cluster`` and
``dbt.models_per_task`` are that environment's, as in the DAG; flags override them. With more
than one model per task it lists each task's models. Reads no Airflow.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dataplatform.config import ConfigError, environment_names, load_environment
from dataplatform.dbt_graph import load_graph, selector_tags
from dataplatform.dbt_grouping import group_models
from dataplatform.dbt_jobs import MAX_TASKS_PER_JOB, JobLimits, describe, plan_jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dbt-plan", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="print the jobs, clusters and their boundaries")
    plan.add_argument("--manifest", type=Path, required=True, help="a dbt manifest.json")
    plan.add_argument("--environment", choices=environment_names(),
                      help="take the selection and parallelism of this environment")
    plan.add_argument("--select", help="tags to keep, e.g. 'tag:daily' (default: all nodes)")
    plan.add_argument("--max-tasks-per-job", type=int, default=MAX_TASKS_PER_JOB)
    plan.add_argument("--parallel-tasks-per-cluster", type=int,
                      help="tasks one job cluster runs at once (default: the environment's, or "
                      "Databricks' 150)")
    plan.add_argument("--models-per-task", type=int,
                      help="models one task builds (default: the environment's, or 1)")
    args = parser.parse_args(argv)
    try:
        print(plan_text(args), end="")
    except (ConfigError, ValueError) as error:
        print(f"dbt-plan: {error}", file=sys.stderr)
        return 1
    return 0


def plan_text(args: argparse.Namespace) -> str:
    env = load_environment(args.environment) if args.environment else None
    select = args.select or (env.dbt.select if env else None)
    parallel = args.parallel_tasks_per_cluster or (
        env.dbt.parallel_tasks_per_cluster if env else JobLimits().parallel_tasks_per_cluster
    )
    per_task = args.models_per_task
    if per_task is None:
        per_task = env.dbt.models_per_task if env else 1
    grouping = group_models(load_graph(args.manifest, selector_tags(select) if select else ()),
                            per_task)
    limits = JobLimits(args.max_tasks_per_job, parallel)
    names = {node.unique_id: node.name for node in grouping.graph.nodes}
    models = grouping.models if per_task > 1 else None
    return describe(plan_jobs(grouping.graph, limits), names, models=models)


if __name__ == "__main__":
    sys.exit(main())
