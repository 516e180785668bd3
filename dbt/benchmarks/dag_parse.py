"""The DAG processor's parse of the model-level dbt DAG file with a large manifest.

Builds the synthetic project (default 2,000 models, `dataplatform.synthetic_dbt`) with dbt and ships
its slim manifest the way the bundle does (`DATAPLATFORM_DBT_MANIFEST`), then parses
`airflow/dags/dbt_runs/dbt_models.py` as the dag-processor does, each time in a fresh process:
import Airflow (the manager has it already, and has frozen its objects out of the garbage
collector's reach before it forks; reported, not counted), pre-import the Airflow
modules the file names (`parsing_pre_import_modules`), then Airflow's own `_parse_file`: the
file's import into a DagBag and the serialization of its DAG (what goes to the database). It
prints, per repeat and as medians, the parse time against MWAA's budgets
(`[core] dagbag_import_timeout` 30 s for the file's import, `[dag_processor]
dag_file_processor_timeout` 50 s for the whole parse), the process's peak RSS, the serialized
DAG's size, and the shipped manifest's size. The processes read compiled bytecode, as an
installed dag-processor does; a first parse (reported, not counted) compiles it.

  ./pants package dbt:synthetic-build && ./pants run dbt:dag-parse-benchmark [-- --models 2000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.synthetic_pex import build_with_pex

DAG_FILE = Path("airflow/dags/dbt_runs/dbt_models.py")
DAGBAG_IMPORT_TIMEOUT = 30.0  # Airflow's and MWAA's default, [core] dagbag_import_timeout
DAG_FILE_PROCESSOR_TIMEOUT = 50.0  # [dag_processor] dag_file_processor_timeout


def rss_mb() -> float:
    """This process's resident memory now (Linux /proc), in MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def parse_in_this_process(dag_file: Path, bundle: Path) -> dict:
    """One parse as the dag-processor's child does it; the figures as a dict."""
    started = time.perf_counter()
    import structlog  # pants: no-infer-dep (a requirement of apache-airflow)
    from airflow.dag_processing.processor import (
        DagFileParseRequest,
        _parse_file,
        _pre_import_airflow_modules,
    )

    log = structlog.get_logger(logger_name="dag-parse-benchmark")
    gc.freeze()  # as the manager does before it forks a parse (airflow/dag_processing/manager.py)
    imported = time.perf_counter()
    _pre_import_airflow_modules(str(dag_file), log)
    pre_imported = time.perf_counter()
    rss_before, cpu_before = rss_mb(), time.process_time()
    request = DagFileParseRequest(file=str(dag_file), bundle_path=bundle, bundle_name="dags")
    result = _parse_file(request, log)
    parsed, cpu = time.perf_counter(), time.process_time() - cpu_before
    if result.import_errors or not result.serialized_dags:
        raise SystemExit(f"{dag_file} did not parse: {result.import_errors}")
    (dag,) = result.serialized_dags
    return {
        "airflow_import_s": imported - started,
        "pre_import_s": pre_imported - imported,
        "parse_s": parsed - pre_imported,
        "parse_cpu_s": cpu,
        "tasks": len(dag.data["dag"]["tasks"]),
        "serialized_mb": len(json.dumps(dag.data)) / 1e6,
        "rss_before_parse_mb": rss_before,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3,
    }


def parse_in_fresh_process(dag_file: Path, bundle: Path, env: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.dag_parse", "--child", str(dag_file), str(bundle)],
        env=env, capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"the parse process failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def airflow_env(home: Path, manifest: Path, pycache: Path) -> dict[str, str]:
    """The parse's environment. Its bytecode is compiled once into `pycache` and then read, as
    an installed environment's is (pip compiles on install; MWAA's too): this machine's
    PYTHONDONTWRITEBYTECODE=1 and a PEX venv without .pyc files would otherwise make every parse
    compile Airflow, the provider and the project's modules again."""
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {
        **environ,
        "PYTHONPYCACHEPREFIX": str(pycache),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "DATAPLATFORM_ENV": "prod",  # what MWAA runs; its dbt selection is tag:daily
        "DATAPLATFORM_DBT_MANIFEST": str(manifest),
        # Parsing needs only the wheel's name, which the bundle ships beside the DAG.
        "DATAPLATFORM_DBT_RUNNER_WHEEL": "dbt_runner-0.1.0+dev-py3-none-any.whl",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--build-pex", type=Path, default=Path("dist/dbt/synthetic-build.pex"),
                        help="the dbt:synthetic-build PEX (`./pants package dbt:synthetic-build`)")
    parser.add_argument("--child", nargs=2, metavar=("DAG_FILE", "BUNDLE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(parse_in_this_process(Path(args.child[0]), Path(args.child[1]))))
        return

    bundle = DAG_FILE.parents[1].resolve()
    with tempfile.TemporaryDirectory(prefix="dag-parse-") as tmp:
        built = build_with_pex(args.build_pex.resolve(), args.models, Path(tmp) / "build")
        manifest = built / "slim-manifest.json"
        print(f"{args.models} models: shipped slim manifest {manifest.stat().st_size / 1e6:.1f} MB "
              f"(dbt's full manifest {(built / 'manifest.json').stat().st_size / 1e6:.1f} MB)")
        env = airflow_env(Path(tmp) / "airflow", manifest, Path(tmp) / "pycache")
        first = parse_in_fresh_process(DAG_FILE.resolve(), bundle, env)
        print(f"  first parse, compiling the bytecode (not counted): {first['parse_s']:.2f} s "
              f"({first['parse_cpu_s']:.2f} s CPU), Airflow's import "
              f"{first['airflow_import_s']:.2f} s", flush=True)
        runs = []
        for repeat in range(args.repeats):
            load = os.getloadavg()[0]
            run = {**parse_in_fresh_process(DAG_FILE.resolve(), bundle, env), "load": load}
            runs.append(run)
            print(f"  parse {repeat + 1}: {run['parse_s']:.2f} s ({run['parse_cpu_s']:.2f} s CPU), "
                  f"{run['tasks']} tasks, peak RSS {run['peak_rss_mb']:.0f} MB, load average "
                  f"{load:.1f}", flush=True)

    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    parse = median("parse_s")
    print(f"\n{DAG_FILE} with {args.models} models, median of {args.repeats} fresh processes:")
    print(f"  import Airflow (once per dag-processor, not per parse) "
          f"{median('airflow_import_s'):6.2f} s")
    print(f"  pre-import the file's Airflow modules                  "
          f"{median('pre_import_s'):6.2f} s")
    print(f"  parse: import the file + serialize its DAG ({runs[0]['tasks']} tasks)  {parse:6.2f} s"
          f"  = {parse / DAGBAG_IMPORT_TIMEOUT:.0%} of dagbag_import_timeout "
          f"{DAGBAG_IMPORT_TIMEOUT:.0f} s, {parse / DAG_FILE_PROCESSOR_TIMEOUT:.0%} of "
          f"dag_file_processor_timeout {DAG_FILE_PROCESSOR_TIMEOUT:.0f} s")
    loads = [r["load"] for r in runs]
    print(f"  CPU time of the parse {median('parse_cpu_s'):.2f} s (wall time follows the machine's "
          f"load: load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores)")
    print(f"  RSS before the parse / peak  {median('rss_before_parse_mb'):.0f} MB / "
          f"{median('peak_rss_mb'):.0f} MB;  serialized DAG {median('serialized_mb'):.1f} MB")


if __name__ == "__main__":
    main()
