"""Where a run's dbt artifacts go, and copying them there whatever the outcome.

Every run gets its own directory (by default `<root>/<UTC time>-<command>-<run id>`), so tasks
running at once or one after the other never overwrite each other's results. On Databricks the
root is a Unity Catalog Volume directory, e.g. /Volumes/<catalog>/<schema>/<volume>/dbt-runs.
"""

import os
import shutil
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT_ENV = "DBT_RUNNER_ARTIFACTS_ROOT"
DEFAULT_ROOT = Path.home() / ".dataplatform" / "dbt-runs"
# What dbt leaves behind that tells what happened: results, the parsed project, dbt's debug log.
ARTIFACTS = ("target/run_results.json", "target/manifest.json", "logs/dbt.log")


def run_directory(
    explicit: Path | None, root: Path | None, command: str, run_id: str | None
) -> Path:
    """--artifacts-dir as given, else a new directory under --artifacts-root / $ROOT_ENV."""
    if explicit:
        return explicit
    base = root or Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return base / f"{stamp}-{command}-{run_id or uuid.uuid4().hex[:8]}"


def copy_artifacts(work: Path, destination: Path) -> list[str]:
    """Copy what dbt wrote in the staged project to `destination`; returns the names copied.

    Each file is written to a temporary name and renamed, so a reader never sees half a file.
    """
    destination.mkdir(parents=True, exist_ok=True)
    copied = []
    for relative in ARTIFACTS:
        produced = work / relative
        if not produced.is_file():
            continue
        name = Path(relative).name
        with tempfile.NamedTemporaryFile(dir=destination, prefix=f".{name}.", delete=False) as tmp:
            with produced.open("rb") as source:
                shutil.copyfileobj(source, tmp)
        os.replace(tmp.name, destination / name)
        copied.append(name)
    return copied
