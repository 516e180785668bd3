"""The local stack: the Databricks emulator plus an embedded Airflow 3.3.1 on SQLite.

    run-all   run every example DAG end to end once and print what each did (the main job)
    up        start the stack for interactive use: Airflow UI on http://127.0.0.1:8080
    backfill  run one DAG over a date range through Airflow's backfill, as MWAA would
    publish   publish the notebooks and wheels to the emulator, and stop

The emulator is started from --emulator-pex, or is one already serving at --emulator-url
(the compose file's `databricks` container) with its token in LOCAL_DATABRICKS_TOKEN.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
import urllib.parse
from datetime import date, datetime
from pathlib import Path

from local_stack.airflow_home import airflow_environment, databricks_connection, migrate_database
from local_stack.console import output_to
from local_stack.emulator_process import EmulatorEndpoint, EmulatorProcess
from local_stack.publish import publish
from local_stack.report import failure_lines, summary_table
from local_stack.run_all import default_logical_date, run_all
from local_stack.stack import StackConfig, local_stack


def command_run_all(args: argparse.Namespace) -> int:
    """Every DAG once with dag.test() in this process; Airflow's logs go to
    STATE/logs/airflow.log, progress to the terminal."""
    log_file = args.state_dir / "logs" / "airflow.log"
    with emulator_running(args) as emulator:
        os.environ.update(airflow_environment(args.state_dir / "airflow", args.dags_folder))
        os.environ.update(databricks_connection(emulator))
        print(f"local stack: emulator on {emulator.url}; Airflow logs in {log_file}")
        with output_to(log_file) as console:
            print(f"local stack: {publish(emulator, args.notebook, args.wheel)}", file=console)
            migrate_started = time.monotonic()
            migrate_database()
            print(f"local stack: Airflow database ready in "
                  f"{time.monotonic() - migrate_started:.1f} s", file=console)
            started = time.monotonic()
            results = run_all(args.dags_folder, emulator, args.state_dir / "databricks",
                              args.logical_date, console, args.dag)
        return report(results, time.monotonic() - started, emulator, log_file)


def report(results, seconds: float, emulator: EmulatorEndpoint, log_hint: Path) -> int:
    """The table per DAG, then what failed and where to look; the exit status."""
    print()
    print(summary_table(results))
    print(f"\n{len(results)} DAG(s) in {seconds:.1f} s; Databricks run pages on {emulator.url}")
    failures = [line for result in results for line in failure_lines(result)]
    for line in failures:
        print(line)
    if failures:
        print(f"logs: {log_hint}")
    return 1 if failures else 0


def emulator_running(args: argparse.Namespace):
    """The emulator serving at --emulator-url, or one started from --emulator-pex."""
    if args.emulator is not None:
        return contextlib.nullcontext(args.emulator)
    return EmulatorProcess(args.emulator_pex, args.state_dir / "databricks",
                           args.state_dir / "logs" / "emulator.log")


def stack_config(args: argparse.Namespace, api_port: int = 0) -> StackConfig:
    return StackConfig(emulator_pex=args.emulator_pex, state_dir=args.state_dir,
                       dags_folder=args.dags_folder, notebooks=args.notebook, wheels=args.wheel,
                       api_port=api_port, emulator=args.emulator)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def command_up(args: argparse.Namespace) -> int:
    """Airflow's services on loopback until Ctrl-C (or SIGTERM); the emulator stops with them."""
    signal.signal(signal.SIGTERM, _interrupt)
    port = int(os.environ.get("AIRFLOW_API_PORT", "8080"))
    try:
        with local_stack(stack_config(args, port), progress) as stack:
            print(f"local stack: Airflow UI on http://127.0.0.1:{port} (every user is admin); "
                  "Ctrl-C stops everything", flush=True)
            while not (exited := stack.services.exited()):
                time.sleep(1)
            print(f"local stack: {exited} exited; see {stack.services.log_file(exited)}",
                  file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        print("local stack: stopped", flush=True)
        return 0


def command_backfill(args: argparse.Namespace) -> int:
    from local_stack.backfill import run_backfill

    with local_stack(stack_config(args), progress) as stack:
        started = time.monotonic()
        result = run_backfill(stack, args.dag_id, args.date_from, args.date_to,
                              args.reprocess_behavior, args.max_active_runs, progress)
        return report([result], time.monotonic() - started, stack.emulator, stack.log_dir)


def progress(line: str) -> None:
    print(f"local stack: {line}", flush=True)


def serving_emulator(url: str, parser: argparse.ArgumentParser) -> EmulatorEndpoint:
    """The endpoint of an emulator another process runs; refused unless URL and token are set.
    Its service principal (for environments whose dbt signs in with OAuth) comes from
    LOCAL_DATABRICKS_CLIENT_ID and LOCAL_DATABRICKS_CLIENT_SECRET when they are set."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        parser.error(f"--emulator-url {url!r}: expected http://HOST:PORT")
    token = os.environ.get("LOCAL_DATABRICKS_TOKEN")
    if not token:
        parser.error("--emulator-url needs LOCAL_DATABRICKS_TOKEN, the token the emulator serves")
    return EmulatorEndpoint(parts.hostname, parts.port, token,
                            os.environ.get("LOCAL_DATABRICKS_CLIENT_ID", ""),
                            os.environ.get("LOCAL_DATABRICKS_CLIENT_SECRET", ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="local_stack", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run-all", "up", "backfill", "publish"])
    emulator_source = parser.add_mutually_exclusive_group(required=True)
    emulator_source.add_argument("--emulator-pex", type=Path, help="start this emulator")
    emulator_source.add_argument("--emulator-url", help="use the emulator serving here")
    parser.add_argument("--state-dir", type=Path, default=Path(".state"))
    parser.add_argument("--dags-folder", type=Path, default=Path("airflow/dags"))
    parser.add_argument("--notebook", type=Path, action="append", default=[],
                        help="a SOURCE notebook to publish (repeatable)")
    parser.add_argument("--wheel", type=Path, action="append", default=[],
                        help="a wheel to publish (repeatable)")
    parser.add_argument("--dag", action="append",
                        help="run-all: run only this DAG id (repeatable); backfill: the DAG id")
    parser.add_argument("--logical-date", type=datetime.fromisoformat,
                        default=default_logical_date(),
                        help="run-all: ISO date-time (default: yesterday, UTC)")
    parser.add_argument("--from", dest="date_from", type=date.fromisoformat,
                        help="backfill: first day (YYYY-MM-DD, UTC)")
    parser.add_argument("--to", dest="date_to", type=date.fromisoformat,
                        help="backfill: last day, included")
    parser.add_argument("--reprocess-behavior", choices=["none", "failed", "completed"],
                        default="none", help="backfill: which existing runs of those dates to "
                        "run again (Airflow's reprocess_behavior; default none)")
    parser.add_argument("--max-active-runs", type=int, default=1,
                        help="backfill: dates run at the same time (default 1)")
    args = parser.parse_args(argv)
    if args.logical_date.tzinfo is None:
        parser.error("--logical-date needs a time zone, e.g. 2025-06-01T00:00:00+00:00")
    if args.command == "backfill":
        if not args.dag or len(args.dag) != 1 or not args.date_from or not args.date_to:
            parser.error("backfill needs --dag ID --from YYYY-MM-DD --to YYYY-MM-DD")
        if args.date_to < args.date_from:
            parser.error(f"--to {args.date_to} is before --from {args.date_from}")
        args.dag_id = args.dag[0]
    args.state_dir = args.state_dir.resolve()
    args.dags_folder = args.dags_folder.resolve()
    args.emulator = serving_emulator(args.emulator_url, parser) if args.emulator_url else None
    if args.command == "publish":
        with emulator_running(args) as emulator:
            print(f"local stack: {publish(emulator, args.notebook, args.wheel)}")
        return 0
    commands = {"run-all": command_run_all, "up": command_up, "backfill": command_backfill}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
