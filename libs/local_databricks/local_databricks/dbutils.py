"""The `dbutils` a notebook or task sees when run by the emulator (child-process side).

databricks-sdk's own local dbutils is not enough here: its widgets only return defaults and its
taskValues are no-ops, so this one reads the run's parameters and shares task values between
tasks of a run through files under the run directory.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from databricks.sdk.dbutils import SecretMetadata, SecretScope

from local_databricks.errors import ApiError
from local_databricks.layout import StateLayout
from local_databricks.secrets import Redactor, SecretStore


class NotebookExit(Exception):  # noqa: N818 - mirrors dbutils.notebook.exit
    """Raised by dbutils.notebook.exit to stop the notebook with a result."""

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


class Widgets:
    def __init__(self, parameters: dict[str, str]) -> None:
        self._parameters = dict(parameters)
        self._defaults: dict[str, str] = {}

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None:  # noqa: N803
        self._defaults[name] = defaultValue

    def dropdown(
        self,
        name: str,
        defaultValue: str,  # noqa: N803
        choices: list[str],
        label: str | None = None,
    ) -> None:
        self._defaults[name] = defaultValue

    combobox = dropdown
    multiselect = dropdown

    def get(self, name: str) -> str:
        if name in self._parameters:
            return str(self._parameters[name])
        if name in self._defaults:
            return self._defaults[name]
        raise ValueError(
            f"No input widget named {name} is defined; pass it in base_parameters/notebook_params "
            "or declare it with dbutils.widgets.text"
        )

    getArgument = get  # noqa: N815

    def getAll(self) -> dict[str, str]:  # noqa: N802
        return self._defaults | {k: str(v) for k, v in self._parameters.items()}

    def remove(self, name: str) -> None:
        self._defaults.pop(name, None)

    def removeAll(self) -> None:  # noqa: N802
        self._defaults.clear()


class NotebookUtils:
    def exit(self, value: Any) -> None:
        raise NotebookExit(str(value))

    def run(self, path: str, timeout_seconds: int = 0, arguments: dict | None = None) -> str:
        raise NotImplementedError(
            "dbutils.notebook.run is not supported by the local emulator; use a multi-task job"
        )


class TaskValues:
    """taskValues.set/get, stored as <run dir>/taskvalues/<task_key>.json."""

    def __init__(self, directory: Path, task_key: str) -> None:
        self._dir = directory
        self._task_key = task_key

    def _file(self, task_key: str) -> Path:
        return self._dir / f"{task_key}.json"

    def set(self, key: str, value: Any) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        values = self._read(self._task_key)
        values[key] = json.loads(json.dumps(value))
        self._file(self._task_key).write_text(json.dumps(values))

    def get(self, taskKey: str, key: str, default: Any = None, debugValue: Any = None) -> Any:  # noqa: N803
        values = self._read(taskKey)
        if key in values:
            return values[key]
        if default is not None:
            return default
        raise ValueError(f"Task value {key!r} was not set by task {taskKey!r} in this run")

    def _read(self, task_key: str) -> dict[str, Any]:
        path = self._file(task_key)
        return json.loads(path.read_text()) if path.exists() else {}


class JobsUtils:
    def __init__(self, task_values: TaskValues) -> None:
        self.taskValues = task_values  # noqa: N815


class IllegalArgumentException(ValueError):  # noqa: N818 - the name Databricks shows
    """What dbutils.secrets raises on Databricks for a scope or key that does not exist."""


class Secrets:
    """dbutils.secrets over the emulator's secret store; values read are redacted in output."""

    def __init__(self, store: SecretStore, redactor: Redactor) -> None:
        self._store, self._redactor = store, redactor

    def getBytes(self, scope: str, key: str) -> bytes:  # noqa: N802
        try:
            value, _ = self._store.get(scope, key)
        except ApiError:
            raise IllegalArgumentException(
                f"Secret does not exist with scope: {scope} and key: {key}"
            ) from None
        self._redactor.add(value.decode("utf-8", "replace"))
        return value

    def get(self, scope: str, key: str) -> str:
        return self.getBytes(scope, key).decode()

    def list(self, scope: str) -> list[SecretMetadata]:
        try:
            keys = self._store.list_secrets(scope)
        except ApiError:
            raise IllegalArgumentException(f"Scope {scope} does not exist") from None
        return [SecretMetadata(key) for key in keys]

    def listScopes(self) -> list[SecretScope]:  # noqa: N802
        return [SecretScope(name) for name in self._store.list_scopes()]


class FileInfo(dict):
    """dbutils.fs.ls entries: attribute and key access."""

    __getattr__ = dict.__getitem__


class FsUtils:
    """dbutils.fs on the emulator's dbfs:/ and /Volumes/ directories."""

    def __init__(self, layout: StateLayout) -> None:
        self._layout = layout

    def _local(self, path: str) -> Path:
        return self._layout.resolve(
            path if ":" in path or path.startswith("/Volumes/") else "dbfs:" + path
        )

    def ls(self, path: str) -> list[FileInfo]:
        entries = sorted(self._local(path).iterdir())
        return [
            FileInfo(
                path=f"{path.rstrip('/')}/{p.name}" + ("/" if p.is_dir() else ""),
                name=p.name,
                size=0 if p.is_dir() else p.stat().st_size,
            )
            for p in entries
        ]

    def put(self, path: str, contents: str, overwrite: bool = False) -> bool:
        target = self._local(path)
        if target.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(contents)
        return True

    def head(self, path: str, maxBytes: int = 65536) -> str:  # noqa: N803
        return self._local(path).read_bytes()[:maxBytes].decode("utf-8", "replace")

    def mkdirs(self, path: str) -> bool:
        self._local(path).mkdir(parents=True, exist_ok=True)
        return True

    def rm(self, path: str, recurse: bool = False) -> bool:
        target = self._local(path)
        if target.is_dir():
            if not recurse:
                raise IsADirectoryError(f"{path} is a directory; pass recurse=True")
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        return True

    def cp(self, source: str, dest: str, recurse: bool = False) -> bool:
        src, dst = self._local(source), self._local(dest)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)
        return True


class DBUtils:
    def __init__(
        self,
        layout: StateLayout,
        parameters: dict[str, str],
        taskvalues_dir: Path,
        task_key: str,
        redactor: Redactor,
    ) -> None:
        self.widgets = Widgets(parameters)
        self.notebook = NotebookUtils()
        self.jobs = JobsUtils(TaskValues(taskvalues_dir, task_key))
        self.secrets = Secrets(SecretStore(layout), redactor)
        self.fs = FsUtils(layout)
