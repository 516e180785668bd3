"""Runs a Databricks SOURCE-format notebook in this process (child-process side).

Cells are split on `# COMMAND ----------`; `# MAGIC %sql` cells run through spark.sql, `%md`
cells are skipped, `%run ./other` runs another workspace notebook in the same namespace, and
`%pip` is refused (packages come from the runner environment). Each cell is compiled under a
filename naming the notebook and cell so tracebacks point at the failing cell.
"""

from __future__ import annotations

import linecache
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

CELL_SEPARATORS = {"PYTHON": "# COMMAND ----------", "SQL": "-- COMMAND ----------"}
MAGIC_PREFIXES = {"PYTHON": "# MAGIC", "SQL": "-- MAGIC"}


@dataclass(frozen=True)
class Cell:
    index: int
    magic: str | None  # "sql", "md", "run", "pip", ... or None for code in the notebook language
    source: str


def parse_notebook(text: str, language: str) -> list[Cell]:
    """Split SOURCE notebook text (header line included) into cells."""
    lines = text.splitlines()[1:]
    separator = CELL_SEPARATORS.get(language, "# COMMAND ----------")
    chunks, current = [], []
    for line in lines:
        if line.strip() == separator:
            chunks.append(current)
            current = []
        else:
            current.append(line)
    chunks.append(current)
    cells = [_cell(i, chunk, language) for i, chunk in enumerate(chunks, start=1)]
    return [cell for cell in cells if cell.source.strip()]


def _cell(index: int, lines: list[str], language: str) -> Cell:
    prefix = MAGIC_PREFIXES.get(language, "# MAGIC")
    if lines and all(not line.strip() or line.startswith(prefix) for line in lines):
        body = [
            line[len(prefix) + 1 :] if line.startswith(prefix + " ") else line[len(prefix) :]
            for line in lines
        ]
        text = "\n".join(body).strip()
        match = re.match(r"%(\w+)\s*(.*)", text, re.S)
        if match:
            return Cell(index, match.group(1).lower(), match.group(2))
    magic = "sql" if language == "SQL" else None
    return Cell(index, magic, "\n".join(lines))


class NotebookRunner:
    """Executes notebooks in one shared namespace."""

    def __init__(self, namespace: dict[str, Any], load: Callable[[str], tuple[str, str]]) -> None:
        self.namespace = namespace
        self._load = load  # workspace path -> (text, language)

    def run(self, path: str) -> None:
        text, language = self._load(path)
        for cell in parse_notebook(text, language):
            self._run_cell(path, cell)

    def _run_cell(self, path: str, cell: Cell) -> None:
        if cell.magic in ("md", "md-sandbox"):
            return
        if cell.magic == "sql":
            for statement in _sql_statements(cell.source):
                result = self.namespace["spark"].sql(statement)
                if result.columns:
                    self.namespace["display"](result)
            return
        if cell.magic == "run":
            target = cell.source.strip().split()[0]
            self.run(
                str(PurePosixPath(path).parent / target) if not target.startswith("/") else target
            )
            return
        if cell.magic is not None and cell.magic != "python":
            raise RuntimeError(
                f"{path} cell {cell.index}: %{cell.magic} cells are not supported by the local "
                "emulator (install packages into the runner environment instead of %pip)"
            )
        filename = f"<notebook {path} cell {cell.index}>"
        linecache.cache[filename] = (len(cell.source), None, cell.source.splitlines(True), filename)
        exec(compile(cell.source, filename, "exec"), self.namespace)  # noqa: S102 - running user code is the job


def _sql_statements(source: str) -> list[str]:
    """Split a %sql cell on semicolons at line ends (the common notebook form)."""
    lines = [line for line in source.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", "\n".join(lines)) if s.strip()]
