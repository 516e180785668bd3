"""`dbt-runner`: run one dbt command on the packaged project and report per node.

Entry point of the dbt-runner wheel. On Databricks it is a python_wheel_task whose parameters
are this argv (targets test/prod); locally SPARK_REMOTE points the `local` target at a Spark
Connect server. Exit codes: 0 success, 1 a model/test/seed failed (named on stderr), 2 dbt
could not run at all (bad arguments, profile, or project).
"""

import argparse
import os
import shutil
import sys
from pathlib import Path

from dbt.cli.main import dbtRunner

from dbt_runner.project import dbt_args, staged_project
from dbt_runner.report import failures, node_line

COMMANDS = ("run", "build", "test", "seed", "parse")
ARTIFACTS = ("run_results.json", "manifest.json")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dbt-runner", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("--select", "-s", nargs="+", default=[], help="dbt node selectors")
    parser.add_argument("--exclude", nargs="+", default=[], help="dbt node selectors")
    parser.add_argument(
        "--target",
        "-t",
        default=os.environ.get("DBT_TARGET", "local"),
        help="profiles.yml target: local, test or prod (default: $DBT_TARGET or local)",
    )
    parser.add_argument("--vars", help="YAML/JSON dict of project variables")
    parser.add_argument(
        "--indirect-selection",
        choices=("eager", "cautious", "buildable", "empty"),
        help="which tests of the selected nodes to run (dbt's default: eager)",
    )
    parser.add_argument(
        "--artifacts-dir",
        type=Path,
        help="copy run_results.json and manifest.json here after the run",
    )
    parser.add_argument(
        "--project-dir", type=Path, help="use this dbt project instead of the packaged one"
    )
    return parser.parse_args(argv)


def dbt_command(args: argparse.Namespace, work: Path) -> list[str]:
    """The dbt argv for a staged project."""
    command = [args.command, *dbt_args(work), "--target", args.target, "--quiet"]
    if args.select:
        command += ["--select", *args.select]
    if args.exclude:
        command += ["--exclude", *args.exclude]
    if args.vars:
        command += ["--vars", args.vars]
    if args.indirect_selection:
        command += ["--indirect-selection", args.indirect_selection]
    return command


def check_environment(args: argparse.Namespace) -> str | None:
    """An error message when the local target cannot reach a Spark Connect server."""
    if args.target == "local" and args.command != "parse" and not os.environ.get("SPARK_REMOTE"):
        return (
            "dbt-runner: the local target needs SPARK_REMOTE=sc://HOST:PORT (a Spark Connect "
            "server such as Sail); on Databricks pass --target test or --target prod"
        )
    return None


def copy_artifacts(work: Path, destination: Path) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    for name in ARTIFACTS:
        produced = work / "target" / name
        if produced.is_file():
            shutil.copy2(produced, destination / name)


def main(argv: list[str] | None = None) -> int | str:
    """0 on success, 2 when dbt could not run, else the exit message naming the failed nodes
    (exit code 1): Databricks reports a wheel task's exit message as the run's error, so the
    Airflow task that waits on the run shows which models and tests failed."""
    args = parse_args(argv)
    problem = check_environment(args)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    with staged_project(args.project_dir) as work:
        outcome = dbtRunner().invoke(dbt_command(args, work))
        if args.artifacts_dir:
            copy_artifacts(work, args.artifacts_dir)
    if outcome.exception is not None:
        print(f"dbt-runner: dbt {args.command} could not run: {outcome.exception}", file=sys.stderr)
        return 2
    results = getattr(outcome.result, "results", [])
    for result in results:
        print(node_line(result), flush=True)
    failed = failures(results)
    if failed or not outcome.success:
        print(f"dbt-runner: dbt {args.command} failed ({len(failed)} nodes):", file=sys.stderr)
        for line in failed:
            print(f"  {line}", file=sys.stderr)
        names = ", ".join(line.split(":", 1)[0] for line in failed) or "see the log above"
        return f"dbt-runner: dbt {args.command} failed: {names}"
    print(f"dbt-runner: dbt {args.command} succeeded ({len(results)} nodes)")
    return 0


def entry_point() -> None:
    """Console script `dbt-runner`."""
    sys.exit(main())
