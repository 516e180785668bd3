"""Child-process entry that runs one task run: `python -m local_databricks.task_runner SPEC.json`.

The server writes the spec (what to run, resolved to local files) and reads back result.json:
{"result": notebook exit value, "error": one line, "error_trace": traceback}. The exit code
is 0 on success. It runs on the cluster's Python, in the cluster's env (its libraries already
installed); SPARK_REMOTE points at the cluster's Spark Connect compute. It leads a process group
of its own and ends that group when the server dies.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import runpy
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from local_databricks.dbutils import DBUtils, NotebookExit
from local_databricks.layout import StateLayout, notebook_language
from local_databricks.lifeline import exit_with_parent
from local_databricks.notebook import NotebookRunner
from local_databricks.selective_overwrite import install as apply_selective_overwrite_as_databricks
from local_databricks.secrets import RedactingStream, Redactor

# Secret values this task read: [REDACTED] in its output and result, as on Databricks.
REDACTOR = Redactor()


def _spark(spark_conf: dict[str, str]):
    """The cluster's Spark session (one per compute, shared by its tasks), with the cluster's
    spark_conf applied where the engine accepts it (a rejected key is reported in the task log,
    not fatal)."""
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.remote(os.environ["SPARK_REMOTE"]).getOrCreate()
    for key, value in spark_conf.items():
        try:
            spark.conf.set(key, value)
        except Exception as error:  # noqa: BLE001 - engines differ in the keys they accept
            print(f"spark_conf {key} not applied by the local engine: {error}", flush=True)
    return spark


def _display(obj: Any) -> None:
    """Notebook display(): print a DataFrame's rows, anything else as text."""
    if hasattr(obj, "show"):
        obj.show(truncate=False)
    else:
        print(obj)


def run_notebook(spec: dict[str, Any], layout: StateLayout) -> str | None:
    def load(path: str) -> tuple[str, str]:
        local = layout.notebook_file(path)
        if local is None:
            raise FileNotFoundError(f"Notebook {path} not found in the workspace; import it first")
        content = local.read_bytes()
        return content.decode(), notebook_language(content) or "PYTHON"

    dbutils = DBUtils(
        layout, spec["parameters"], Path(spec["taskvalues_dir"]), spec["task_key"], REDACTOR
    )
    spark = _spark({})
    namespace = {"__name__": "__main__", "spark": spark, "dbutils": dbutils, "display": _display}
    try:
        NotebookRunner(namespace, load).run(spec["path"])
    except NotebookExit as exit_:
        return exit_.value
    return None


def run_python_file(spec: dict[str, Any], layout: StateLayout) -> None:
    local = layout.resolve(spec["path"])
    if not local.is_file():
        raise FileNotFoundError(f"Python file {spec['path']} not found (looked at {local})")
    sys.argv = [str(local), *spec["parameters"]]
    sys.path.insert(0, str(local.parent))
    runpy.run_path(str(local), run_name="__main__")


def run_wheel(spec: dict[str, Any], layout: StateLayout) -> None:
    """Call the entry point of a package installed on the cluster (its libraries), the way
    Databricks does: the package's declared entry point of that name, else the package
    attribute of that name."""
    package, name = spec["package_name"], spec["entry_point"]
    named = [f"--{k}={v}" for k, v in spec["named_parameters"].items()]
    sys.argv = [package, *spec["parameters"], *named]
    result = _entry_point(package, name)()
    if isinstance(result, int) and result != 0:
        raise SystemExit(result)


def _entry_point(package: str, name: str):
    wanted = package.replace("-", "_").lower()
    try:
        dist = importlib.metadata.distribution(wanted)
    except importlib.metadata.PackageNotFoundError:
        dist = None
    for entry in dist.entry_points if dist else ():
        if entry.name == name:
            return entry.load()
    try:
        module = importlib.import_module(wanted)
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"Package {package} is not installed on the cluster; add its wheel to the task's "
            "libraries"
        ) from None
    if not hasattr(module, name):
        raise AttributeError(f"Package {package} has no entry point or function named {name!r}")
    return getattr(module, name)


RUNNERS = {"notebook": run_notebook, "python_file": run_python_file, "wheel": run_wheel}


def main(spec_path: str) -> int:
    # A task whose server died is a task whose driver died: it ends with everything it started.
    exit_with_parent(lambda: os.killpg(os.getpgrp(), signal.SIGKILL))
    spec = json.loads(Path(spec_path).read_text())
    layout = StateLayout(Path(spec["state_dir"]))
    result_file = Path(spec["result_file"])
    outcome: dict[str, Any] = {"result": None, "error": None, "error_trace": None}
    code = 0
    sys.stdout = RedactingStream(sys.stdout, REDACTOR)
    sys.stderr = RedactingStream(sys.stderr, REDACTOR)
    try:
        if spec.get("hang"):
            print("Injected fault: this task hangs until cancelled or timed out", flush=True)
            while True:
                time.sleep(60)
        apply_selective_overwrite_as_databricks()
        if spec["spark_conf"]:
            _spark(spec["spark_conf"])
        outcome["result"] = RUNNERS[spec["kind"]](spec, layout)
    except SystemExit as exit_:
        if exit_.code not in (None, 0):
            outcome["error"] = f"SystemExit: {exit_.code}"
            outcome["error_trace"] = traceback.format_exc()
            code = 1
    except BaseException as error:  # noqa: BLE001 - every failure of user code is reported
        outcome["error"] = f"{type(error).__name__}: {error}"
        outcome["error_trace"] = traceback.format_exc()
        traceback.print_exc()
        code = 1
    outcome = {k: REDACTOR.redact(v) if isinstance(v, str) else v for k, v in outcome.items()}
    result_file.write_text(json.dumps(outcome))
    sys.stdout.flush()
    sys.stderr.flush()
    return code


if __name__ == "__main__":
    os._exit(main(sys.argv[1]))
