"""Find the dbt project and stage a private, writable copy of it for one dbt invocation.

dbt writes target/ and logs/ inside the project directory; an installed wheel may be read-only
and several tasks may run at once, so every invocation works on its own copy.
"""

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

# The project is package data at dbt_runner/project/, in the repository and in the wheel.
_PACKAGED = "project"
_GENERATED = shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml")


def find_project(override: Path | None = None) -> Path:
    """The project directory: override, else the package's own."""
    candidates = [override or Path(str(resources.files(__package__).joinpath(_PACKAGED)))]
    for candidate in candidates:
        if (candidate / "dbt_project.yml").is_file():
            return candidate
    raise FileNotFoundError(
        f"no dbt_project.yml in {', '.join(map(str, candidates))}: pass --project-dir, or build "
        "the wheel with the dbt project as package data under dbt_runner/project/"
    )


@contextmanager
def staged_project(override: Path | None = None) -> Iterator[Path]:
    """Yield a temporary copy of the project (deleted afterwards) holding its profiles.yml."""
    source = find_project(override)
    with tempfile.TemporaryDirectory(prefix="dbt-runner-") as tmp:
        work = Path(tmp) / "project"
        shutil.copytree(source, work, ignore=_GENERATED)
        yield work


def dbt_args(work: Path) -> list[str]:
    """The dbt flags that point an invocation at a staged project and keep it offline-quiet."""
    return [
        "--project-dir",
        str(work),
        "--profiles-dir",
        str(work),
        "--no-send-anonymous-usage-stats",
    ]
