"""The local stack: the Databricks emulator plus an embedded Airflow 3.3.1 on SQLite.

    run-all   run every example DAG end to end once and print what each did (the main job)
    up        start the stack for interactive use: Airflow UI on http://127.0.0.1:8080
    publish   publish the notebooks and wheels to the emulator, and stop

The emulator is started from --emulator-pex, or is one already serving at --emulator-url
(the compose file's `databricks` container) with its token in LOCAL_DATABRICKS_TOKEN.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import urllib.parse
from datetime import datetime
from pathlib import Path

from local_stack.airflow_home import airflow_environment, databricks_connection, migrate_database
from local_stack.console import output_to
from local_stack.emulator_process import EmulatorEndpoint, EmulatorProcess
from local_stack.publish import publish
from local_stack.run_all import default_logical_date, run_all, summary_table


def command_run_all(args: argparse.Namespace, emulator: EmulatorEndpoint) -> int:
    """Every DAG once; Airflow's logs go to STATE/logs/airflow.log, progress to the terminal."""
    log_file = args.state_dir / "logs" / "airflow.log"
    print(f"local stack: emulator on {emulator.url}; Airflow logs in {log_file}")
    with output_to(log_file) as console:
        print(f"local stack: {publish(emulator, args.notebook, args.wheel)}", file=console)
        migrate_started = time.monotonic()
        migrate_database()
        print(f"local stack: Airflow database ready in {time.monotonic() - migrate_started:.1f} s",
              file=console)
        started = time.monotonic()
        results = run_all(args.dags_folder, emulator, args.logical_date, console, args.dag)
    print()
    print(summary_table(results))
    print(f"\n{len(results)} DAGs in {time.monotonic() - started:.1f} s; "
          f"Databricks run pages on {emulator.url}")
    failed = [r.dag_id for r in results if r.state != "success"]
    if failed:
        print(f"failed: {', '.join(failed)}; see {log_file}")
    return 1 if failed else 0


def command_up(args: argparse.Namespace, emulator: EmulatorEndpoint) -> int:
    """Airflow's services on loopback until Ctrl-C; the emulator stops with them."""
    from local_stack.airflow_services import run_services

    print(f"local stack: {publish(emulator, args.notebook, args.wheel)}")
    migrate_database()
    port = os.environ["AIRFLOW__API__PORT"]
    print(f"local stack: emulator on {emulator.url}; Airflow UI on http://127.0.0.1:{port} "
          "(every user is admin); Ctrl-C stops everything", flush=True)
    return run_services(port, args.state_dir.resolve() / "logs")


def serving_emulator(url: str, parser: argparse.ArgumentParser) -> EmulatorEndpoint:
    """The endpoint of an emulator another process runs; refused unless URL and token are set."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        parser.error(f"--emulator-url {url!r}: expected http://HOST:PORT")
    token = os.environ.get("LOCAL_DATABRICKS_TOKEN")
    if not token:
        parser.error("--emulator-url needs LOCAL_DATABRICKS_TOKEN, the token the emulator serves")
    return EmulatorEndpoint(parts.hostname, parts.port, token)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="local_stack", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run-all", "up", "publish"])
    emulator_source = parser.add_mutually_exclusive_group(required=True)
    emulator_source.add_argument("--emulator-pex", type=Path, help="start this emulator")
    emulator_source.add_argument("--emulator-url", help="use the emulator serving here")
    parser.add_argument("--state-dir", type=Path, default=Path(".state"))
    parser.add_argument("--dags-folder", type=Path, default=Path("airflow/dags"))
    parser.add_argument("--notebook", type=Path, action="append", default=[],
                        help="a SOURCE notebook to publish (repeatable)")
    parser.add_argument("--wheel", type=Path, action="append", default=[],
                        help="a wheel to publish (repeatable)")
    parser.add_argument("--dag", action="append", help="run only this DAG id (repeatable)")
    parser.add_argument("--logical-date", type=datetime.fromisoformat,
                        default=default_logical_date(), help="ISO date (default: yesterday, UTC)")
    args = parser.parse_args(argv)
    if args.logical_date.tzinfo is None:
        parser.error("--logical-date needs a time zone, e.g. 2025-06-01T00:00:00+00:00")
    state_dir = args.state_dir = args.state_dir.resolve()
    args.dags_folder = args.dags_folder.resolve()
    if args.emulator_url:
        emulator_running = contextlib.nullcontext(serving_emulator(args.emulator_url, parser))
    else:
        emulator_running = EmulatorProcess(args.emulator_pex, state_dir / "databricks",
                                           state_dir / "logs" / "emulator.log")
    with emulator_running as emulator:
        if args.command == "publish":
            print(f"local stack: {publish(emulator, args.notebook, args.wheel)}")
            return 0
        os.environ.update(airflow_environment(state_dir / "airflow", args.dags_folder))
        os.environ.update(databricks_connection(emulator))
        if args.command == "run-all":
            return command_run_all(args, emulator)
        return command_up(args, emulator)


if __name__ == "__main__":
    sys.exit(main())
