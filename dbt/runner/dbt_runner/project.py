"""Find the dbt project and stage a private, writable copy of it for one dbt invocation.

dbt writes target/ and logs/ inside the project directory; an installed wheel may be read-only
and several tasks may run at once, so every invocation works on its own copy. The copy also
receives the runner's own macros (dbt_runner/macros/), so any project run by the runner gets
them without copying them in.
"""

import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import yaml  # pants: no-infer-dep (PyYAML is a requirement of dbt-core)

# The project is package data at dbt_runner/project/, in the repository and in the wheel.
_PACKAGED = "project"
_RUNNER_MACROS = "macros"
_GENERATED = shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml")
_MACRO_NAME = re.compile(r"{%-?\s*macro\s+(\w+)")


def packaged_project() -> Path:
    return Path(str(resources.files(__package__).joinpath(_PACKAGED)))


def find_project(override: Path | None = None) -> Path:
    """The project directory: override, else the package's own."""
    candidate = override or packaged_project()
    if (candidate / "dbt_project.yml").is_file():
        return candidate
    raise FileNotFoundError(
        f"no dbt_project.yml in {candidate}: pass --project-dir, or build the wheel with the dbt "
        "project as package data under dbt_runner/project/"
    )


def project_config(project: Path) -> dict:
    """dbt_project.yml as YAML (unrendered)."""
    return yaml.safe_load((project / "dbt_project.yml").read_text()) or {}


def _macro_names(files: Iterable[Path]) -> set[str]:
    return {name for path in files for name in _MACRO_NAME.findall(path.read_text())}


def add_runner_macros(work: Path) -> list[Path]:
    """Copy the runner's macros into the project's first macro path, under dbt_runner/.

    A macro the project defines itself wins: its file is not added (dbt refuses two macros of
    one name in one project). Returns the files added.
    """
    macro_dir = work / project_config(work).get("macro-paths", ["macros"])[0]
    defined = _macro_names(macro_dir.rglob("*.sql")) if macro_dir.is_dir() else set()
    added = []
    for source in Path(str(resources.files(__package__).joinpath(_RUNNER_MACROS))).glob("*.sql"):
        if _macro_names([source]) & defined:
            continue
        target = macro_dir / "dbt_runner" / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        added.append(target)
    return added


@contextmanager
def staged_project(override: Path | None = None) -> Iterator[Path]:
    """Yield a temporary copy of the project plus the runner's macros (deleted afterwards)."""
    source = find_project(override)
    with tempfile.TemporaryDirectory(prefix="dbt-runner-") as tmp:
        work = Path(tmp) / "project"
        shutil.copytree(source, work, ignore=_GENERATED)
        add_runner_macros(work)
        yield work


def dbt_args(work: Path, profiles_dir: Path | None = None) -> list[str]:
    """The dbt flags that point an invocation at a staged project and keep it offline-quiet."""
    return [
        "--project-dir",
        str(work),
        "--profiles-dir",
        str(profiles_dir or work),
        "--log-path",
        str(work / "logs"),
        "--no-send-anonymous-usage-stats",
    ]
