"""The Airflow image holds what its DAGs import and read, and what the main job publishes.

No Docker engine runs here. The test lays the image's files out as the Dockerfile's COPY
instructions would (sources from the repository, `dist/...` from the build outputs Pants packages
for this test), then loads the DAG bundle from that tree in a fresh interpreter whose only
first-party code is on the image's PYTHONPATH: an import the image lacks, or a file the DAGs read
beside them (the dbt manifest, the runner wheel's name) that it does not ship, fails the load.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import dataplatform
import deploy.workspace
import local_stack.__main__
import local_stack.publish
import pytest
import yaml  # pants: no-infer-dep (Airflow requires it; the whole lockfile is installed)

DOCKER = Path("infra/docker")
STAGE = "airflow"
DAGS_FOLDER = Path("airflow/dags")
# First-party code the image runs besides the DAGs: their library and the local-stack commands.
IMAGE_MODULES = [m.__name__ for m in (dataplatform, local_stack.__main__, local_stack.publish,
                                      deploy.workspace)]  # fmt: skip
# Run in the image's Python: the DAG bundle as the dag-processor loads it, and IMAGE_MODULES;
# prints what loaded and from where.
LOAD_IMAGE = """
import importlib, json, os, sys
from airflow.dag_processing.dagbag import DagBag
folder = os.environ["AIRFLOW__CORE__DAGS_FOLDER"]
bag = DagBag(dag_folder=folder, bundle_path=folder)
modules = {name: importlib.import_module(name).__file__ for name in sys.argv[1:]}
print(json.dumps({
    "errors": {path: str(error) for path, error in bag.import_errors.items()},
    "tasks": {dag_id: sorted(dag.task_ids) for dag_id, dag in bag.dags.items()},
    "files": sorted({os.path.relpath(dag.fileloc, folder) for dag in bag.dags.values()}),
    "modules": modules,
}))
"""


@dataclass
class Stage:
    copies: list[tuple[list[str], str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical, pending = [], ""
    for line in dockerfile.splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            logical.append(pending.strip())
            pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def stages(dockerfile: str) -> dict[str, Stage]:
    """The COPY and ENV instructions of each stage, by stage name."""
    stages: dict[str, Stage] = {}
    current = Stage()
    for instruction, arguments in instructions(dockerfile):
        if instruction == "FROM":
            words = arguments.split()
            current = Stage()
            stages[words[-1] if "AS" in map(str.upper, words) else words[0]] = current
        elif instruction == "COPY":
            words = [w for w in shlex.split(arguments) if not w.startswith("--chown")]
            assert not any(w.startswith("--from") for w in words), f"COPY {arguments}"
            current.copies.append((words[:-1], words[-1]))
        elif instruction == "ENV":
            current.env.update(word.split("=", 1) for word in shlex.split(arguments))
    return stages


def ignore_rules(text: str) -> list[tuple[re.Pattern[str], bool]]:
    """A .dockerignore as (pattern, excludes) in order: `*` and `?` stay within one path
    segment, `**` spans any, a leading `!` re-includes."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        excludes = not line.startswith("!")
        pattern = line.removeprefix("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        rules.append((re.compile(regex.replace(r"\?", "[^/]")), excludes))
    return rules


def ignored(path: str, rules: list[tuple[re.Pattern[str], bool]]) -> bool:
    """As BuildKit decides: the last rule matching the path or one of its parents wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    decision = False
    for pattern, excludes in rules:
        if any(pattern.fullmatch(candidate) for candidate in candidates):
            decision = excludes
    return decision


def build_outputs() -> Path:
    """Where `dist/` of the Dockerfile is: the sandbox root under Pants, else dist/."""
    return Path(".") if Path("dbt-runner").is_dir() else Path("dist")


def lay_out(copies: list[tuple[list[str], str]], image: Path) -> None:
    """Copy each COPY source to its path in ``image``, as Docker's COPY does."""
    for sources, destination in copies:
        for source in sources:
            origin = (
                build_outputs() / source.removeprefix("dist/")
                if source.startswith("dist/") else Path(source)
            )  # fmt: skip
            assert origin.exists(), f"COPY {source}: not in the repository or the build outputs"
            target = image / destination.lstrip("/")
            if origin.is_dir():
                shutil.copytree(origin, target, dirs_exist_ok=True)
            else:
                if destination.endswith("/"):
                    target = target / origin.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)


def in_image(image: Path, path: str) -> Path:
    return image / path.lstrip("/")


@pytest.fixture(scope="module")
def airflow_stage() -> Stage:
    return stages((DOCKER / "Dockerfile").read_text())[STAGE]


@pytest.fixture(scope="module")
def image(airflow_stage: Stage, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("image")
    lay_out(airflow_stage.copies, root)
    return root


@pytest.fixture(scope="module")
def loaded(airflow_stage: Stage, image: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The DAG bundle loaded from the image tree; first-party code only from its PYTHONPATH."""
    env = airflow_stage.env
    home = tmp_path_factory.mktemp("airflow-home")
    clean = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": env["AIRFLOW__CORE__LOAD_EXAMPLES"],
        "AIRFLOW__CORE__DAGS_FOLDER": str(in_image(image, env["AIRFLOW__CORE__DAGS_FOLDER"])),
        "PYTHONPATH": os.pathsep.join(
            str(in_image(image, p)) for p in env["PYTHONPATH"].split(":")
        ),
        "DATAPLATFORM_ENV": compose_airflow_environment()["DATAPLATFORM_ENV"],
    }
    result = subprocess.run([sys.executable, "-c", LOAD_IMAGE, *IMAGE_MODULES], env=clean, cwd=home,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def compose_airflow_environment() -> dict[str, str]:
    services = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]
    return services["scheduler"]["environment"]


def test_the_image_loads_every_dag_from_its_own_files(loaded: dict, image: Path):
    assert loaded["errors"] == {}
    dag_files = sorted(p.relative_to(DAGS_FOLDER).as_posix() for p in DAGS_FOLDER.rglob("*.py"))
    assert dag_files and loaded["files"] == dag_files  # every DAG file made its DAG
    assert {"dbt_daily_models", "notebook_orders_ingest"} <= set(loaded["tasks"])
    assert set(loaded["modules"]) == set(IMAGE_MODULES)
    for module, path in loaded["modules"].items():
        assert Path(path).is_relative_to(image), f"{module} came from {path}, not the image"


def test_the_model_level_dag_renders_the_manifest_the_image_ships(loaded: dict, image: Path):
    manifest = in_image(image, "/opt/dataplatform/airflow/dags/dbt_runs/manifest.json")
    nodes = {  # what the DAG makes a task of: models, seeds and snapshots
        node["name"]
        for node in json.loads(manifest.read_text())["nodes"].values()
        if node["resource_type"] in ("model", "seed", "snapshot")
    }
    rendered = {task.removeprefix("dbt.") for task in loaded["tasks"]["dbt_daily_models"]}
    node_tasks = rendered - {"launch", "source_tests"}  # the job launch, the sources' tests
    assert node_tasks and node_tasks <= nodes, (node_tasks, nodes)


def test_the_image_holds_what_the_main_job_publishes(image: Path):
    """`local-stack run-all` publishes every notebook and the wheel the dbt DAGs name."""
    dags = in_image(image, "/opt/dataplatform/airflow/dags")
    wheel_name = (dags / "dbt_runs" / "dbt_runner_wheel.txt").read_text().strip()
    assert (in_image(image, "/opt/dataplatform/dist/dbt-runner") / wheel_name).is_file()
    notebooks = {p.name for p in Path("notebooks").glob("*.py")}
    assert notebooks and notebooks <= {
        p.name for p in in_image(image, "/opt/dataplatform/notebooks").glob("*.py")
    }
    script = in_image(image, "/usr/local/bin/local-stack").read_text()
    assert "cd /opt/dataplatform" in script
    assert "notebooks/*.py" in script and "airflow/dags/dbt_runs/dbt_runner_wheel.txt" in script


def test_compose_publishes_before_airflow_and_runs_the_main_job_against_the_emulator():
    services = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]
    assert services["publish"]["command"] == ["local-stack", "publish"]
    assert services["run-all"]["command"] == ["local-stack", "run-all"]
    for name in ("publish", "run-all"):
        assert services[name]["depends_on"] == {"databricks": {"condition": "service_healthy"}}
        assert services[name]["environment"]["LOCAL_DATABRICKS_URL"] == "http://databricks:8000"
    for name in ("api-server", "scheduler", "dag-processor", "triggerer"):
        needs = services[name]["depends_on"]
        assert needs["publish"] == {"condition": "service_completed_successfully"}, name
    assert "healthcheck" in services["databricks"]


def test_the_build_context_keeps_every_copy_source_and_little_else():
    """Dockerfile.dockerignore must not drop a file a COPY line takes (the build would fail)."""
    rules = ignore_rules((DOCKER / "Dockerfile.dockerignore").read_text())
    sources = {
        source
        for stage in stages((DOCKER / "Dockerfile").read_text()).values()
        for sources, _ in stage.copies
        for source in sources
    }
    for source in sorted(sources):
        assert not ignored(source, rules), f"COPY {source}: excluded by Dockerfile.dockerignore"
        for path in Path(source).rglob("*.py") if Path(source).is_dir() else []:
            if "__pycache__" not in path.parts:
                assert not ignored(path.as_posix(), rules), f"{path}: excluded"
    for outside in ("dist/mwaa/test-private/plugins.zip", ".state/airflow/airflow.db",
                    "dist/libs.local_databricks/emulator.pex", "tests/e2e/conftest.py"):
        assert ignored(outside, rules), outside  # fmt: skip
