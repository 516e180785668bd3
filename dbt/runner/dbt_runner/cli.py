"""`dbt-runner`: run one dbt command on the packaged project and report per node.

Entry point of the dbt-runner wheel. On Databricks it is a python_wheel_task whose parameters
are this argv (targets test/prod: dbt-databricks sends the SQL to a SQL warehouse); locally
SPARK_REMOTE points the `local` target at a Spark Connect server. Exit status 0 on success;
otherwise the exit message says what went wrong (failed nodes, a selection matching nothing,
missing credentials), which Databricks shows as the run's error.
"""

import argparse
import os
import sys
from pathlib import Path

from dbt.cli.main import dbtRunner, dbtRunnerResult

from dbt_runner.artifacts import ROOT_ENV, copy_artifacts, run_directory
from dbt_runner.parse_state import parse, shipped_state
from dbt_runner.profiles import missing_credentials, profiles_dir
from dbt_runner.project import dbt_args, staged_project
from dbt_runner.report import failures, node_line

COMMANDS = ("run", "build", "test", "seed", "parse", "debug")


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
        help="write run_results.json, manifest.json and dbt.log here (default: a new directory "
        "per run under --artifacts-root)",
    )
    parser.add_argument(
        "--artifacts-root",
        type=Path,
        help=f"where per-run artifact directories go, e.g. a Volume directory (default: "
        f"${ROOT_ENV}, else ~/.dataplatform/dbt-runs)",
    )
    parser.add_argument(
        "--run-id",
        help="names the per-run artifacts directory, e.g. Databricks' {{job.run_id}}",
    )
    parser.add_argument(
        "--profiles-dir",
        type=Path,
        help="directory of profiles.yml (default: $DBT_PROFILES_DIR, else the project's own "
        "profiles.yml, else ~/.dbt)",
    )
    parser.add_argument(
        "--project-dir",
        type=Path,
        help="run this dbt project instead of the one packaged in the wheel (it is copied first, "
        "so it may be read-only)",
    )
    return parser.parse_args(argv)


def dbt_command(args: argparse.Namespace, work: Path, profiles: Path) -> list[str]:
    """The dbt argv for a staged project. dbt caches only the schemas of the selected nodes
    (a model task selects one model: listing every schema of the project took seconds).
    `build` links tests to their downstream nodes with dbt's faster algorithm (the same order,
    fewer edges): the default walks every node's ancestry, 10x slower and 15% of a model task's
    CPU in a 300-model project."""
    command = [args.command, *dbt_args(work, profiles), "--target", args.target, "--quiet",
               "--cache-selected-only"]
    if args.command == "build":
        command.append("--use-fast-test-edges")
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


def debug_command(args: argparse.Namespace, work: Path, profiles: Path) -> list[str]:
    """`dbt debug --connection`: load the target's profile and run dbt's connection check on
    the warehouse (dbt-databricks: open a session, `select 1`), without parsing the project.
    Not quiet: dbt's report (adapter, host, http_path, "OK connection ok") is the output."""
    return ["debug", *dbt_args(work, profiles), "--target", args.target, "--connection"]


def run_dbt(args: argparse.Namespace, work: Path, profiles: Path) -> dbtRunnerResult:
    """Parse (from the wheel's saved state when dbt finds it valid), then run the command on
    the parsed manifest, so dbt never parses twice."""
    if args.command == "debug":
        return dbtRunner().invoke(debug_command(args, work, profiles))
    state = None if args.project_dir else shipped_state(args.target)
    parsed = parse(work, profiles, args.target, args.vars, state, args.command == "parse")
    if args.command == "parse" or not parsed.success:
        return parsed
    return dbtRunner(manifest=parsed.result).invoke(dbt_command(args, work, profiles))


def verdict(args: argparse.Namespace, outcome: dbtRunnerResult) -> int | str:
    """0, or the exit message: why dbt could not run, or which nodes failed."""
    if outcome.exception is not None:
        return f"dbt-runner: dbt {args.command} could not run: {outcome.exception}"
    if not hasattr(outcome.result, "results"):  # parse, debug, or stopped before any node ran
        return 0 if outcome.success else f"dbt-runner: dbt {args.command} failed (see dbt.log)"
    results = outcome.result.results
    if not results:
        selection = " ".join(
            [*(["--select", *args.select] if args.select else []),
             *(["--exclude", *args.exclude] if args.exclude else [])]
        ) or "(no --select)"
        return (
            f"dbt-runner: dbt {args.command} {selection} matched no nodes of the project, so "
            "nothing ran; check the selectors against the project's manifest.json "
            "(`dbt-runner parse` writes it)"
        )
    for result in results:
        print(node_line(result), flush=True)
    failed = failures(results)
    if failed or not outcome.success:
        print(f"dbt-runner: dbt {args.command} failed ({len(failed)} nodes):", file=sys.stderr)
        for line in failed:
            print(f"  {line}", file=sys.stderr)
        names = ", ".join(line.split(":", 1)[0] for line in failed) or "see dbt.log"
        return f"dbt-runner: dbt {args.command} failed: {names}"
    print(f"dbt-runner: dbt {args.command} succeeded ({len(results)} nodes)")
    return 0


def main(argv: list[str] | None = None) -> int | str:
    """0 on success, else the exit message (exit status 1): Databricks reports a wheel task's
    exit message as the run's error, so the Airflow task that waits on the run shows it."""
    args = parse_args(argv)
    problem = check_environment(args)
    if problem:
        return problem
    with staged_project(args.project_dir) as work:
        profiles = profiles_dir(args.profiles_dir, work)
        artifacts = run_directory(
            args.artifacts_dir, args.artifacts_root, args.command, args.run_id
        )
        try:
            needs_warehouse = args.command != "parse"
            missing = needs_warehouse and missing_credentials(profiles, work, args.target)
            if missing:
                return missing
            outcome = run_dbt(args, work, profiles)
        finally:
            copied = copy_artifacts(work, artifacts)
            print(f"dbt-runner: artifacts ({', '.join(copied) or 'none'}) in {artifacts}")
    return verdict(args, outcome)


def entry_point() -> None:
    """Console script `dbt-runner`."""
    sys.exit(main())
