"""Parse-time benchmark of the DAG bundle.

Prints, per DAG file, the first (cold: pulls in the lib and provider modules) and the median
parse time over --repeats on top of an already imported Airflow, then the median time to fill a
DagBag with the whole bundle. From the repository root:

    ./pants run airflow:parse-benchmark
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

# `./pants run` starts in the repository root; the DAG files are read there, as a scheduler would.
DEFAULT_DAGS_FOLDER = Path("airflow/dags")


def _timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _parse_once(dag_bag_class, folder: Path, path: Path) -> float:
    """Time one parse of ``path`` (a fresh DagBag: a used one skips unchanged files)."""
    bag = dag_bag_class(dag_folder=folder, bundle_path=folder, collect_dags=False)
    elapsed = _timed(lambda: bag.process_file(str(path)))
    if bag.import_errors or not bag.dags:
        raise SystemExit(f"{path}: no DAG parsed; import errors: {bag.import_errors}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dags-folder", type=Path, default=DEFAULT_DAGS_FOLDER)
    parser.add_argument("--dbt-manifest", type=Path,
                        default=Path("tests", "dbt", "fixtures", "manifest.json"),
                        help="manifest for the model-level dbt DAG (default: the test fixture)")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("DATAPLATFORM_DBT_MANIFEST", str(args.dbt_manifest.resolve()))
    # Parsing needs only a wheel name, not the wheel.
    os.environ.setdefault("DATAPLATFORM_DBT_RUNNER_WHEEL", "dbt_runner-0.1.0+dev-py3-none-any.whl")

    airflow_import = _timed(lambda: __import__("airflow.dag_processing.dagbag"))
    from airflow.dag_processing.dagbag import DagBag

    folder = args.dags_folder.resolve()
    print(f"import airflow: {airflow_import * 1000:.0f} ms (not counted below)")
    print(f"{'DAG file':<40} {'first ms':>9} {'median ms':>10}")
    for path in sorted(folder.rglob("*.py")):
        times = [_parse_once(DagBag, folder, path) for _ in range(args.repeats + 1)]
        name = str(path.relative_to(folder))
        print(f"{name:<40} {times[0] * 1000:>9.1f} {statistics.median(times[1:]) * 1000:>10.1f}")

    fills = [
        _timed(lambda: DagBag(dag_folder=folder, bundle_path=folder)) for _ in range(args.repeats)
    ]
    median_fill = statistics.median(fills) * 1000
    print(f"whole bundle DagBag fill: median {median_fill:.1f} ms over {args.repeats} fills")


if __name__ == "__main__":
    main()
