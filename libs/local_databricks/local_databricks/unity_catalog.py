"""Unity Catalog names: catalogs, schemas and volumes, kept in <state dir>/unity_catalog.json.

Catalogs exist only once created (Catalogs API or `serve --catalog NAME`), except
`hive_metastore`, the workspace's legacy catalog that every cluster has and that is the default
catalog of a job cluster. Each compute gets every catalog as one of Sail's own catalogs, so a
three-level name resolves natively and a table in one catalog is not visible from another; a
two-level name resolves in the cluster's `spark.databricks.sql.initial.catalog.name`. Schemas
made with SQL on a compute live in the table journal (catalog.py); schemas made with the Schemas
API live here and are created on every compute. Volume files live under <state>/volumes/<c>/<s>/<v>
and a /Volumes path is refused unless its volume exists.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
import uuid
from typing import Any

from local_databricks.errors import ApiError, invalid
from local_databricks.layout import StateLayout, write_private
from local_databricks.store import read_json

HIVE_METASTORE = "hive_metastore"
INITIAL_CATALOG_CONF = "spark.databricks.sql.initial.catalog.name"
DEFAULT_SCHEMA = "default"
# Stricter than the service (it also allows spaces and most punctuation when quoted): names
# the emulator passes into Sail's settings and SQL unquoted.
NAME_RULE = re.compile(r"[a-z0-9_][a-z0-9_-]{0,254}")
METASTORE_ID = "00000000-0000-0000-0000-00000000c0de"
OWNER = "local@emulator"


def initial_catalog(cluster_spec: dict[str, Any]) -> str:
    """The catalog two-level names resolve in on a cluster of this spec (a job cluster's
    default is hive_metastore)."""
    return (cluster_spec.get("spark_conf") or {}).get(INITIAL_CATALOG_CONF, HIVE_METASTORE)


def _missing(error_code: str, message: str) -> ApiError:
    return ApiError(404, error_code, message)


def _exists(error_code: str, message: str) -> ApiError:
    return ApiError(409, error_code, message)


def check_name(kind: str, name: str) -> str:
    """The name as Unity Catalog stores it (lower case), or INVALID_PARAMETER_VALUE."""
    lowered = name.lower()
    if not NAME_RULE.fullmatch(lowered):
        raise invalid(
            f"Invalid {kind} name {name!r}: the emulator accepts letters, digits, '_' and '-' "
            "(at most 255 characters, not starting with '-')"
        )
    return lowered


class UnityCatalog:
    """Catalogs, schemas and volumes of one state directory."""

    def __init__(self, layout: StateLayout) -> None:
        self._layout = layout
        self._file = layout.root / "unity_catalog.json"
        self._write_lock = threading.Lock()

    # -- reading -----------------------------------------------------------------------------

    def _load(self) -> dict[str, dict[str, Any]]:
        return read_json(self._file, {"catalogs": {}, "schemas": {}, "volumes": {}})

    def spark_catalogs(self) -> list[str]:
        """Every catalog a compute gets: hive_metastore and the created ones."""
        return [HIVE_METASTORE, *sorted(self._load()["catalogs"])]

    def catalogs(self) -> list[dict[str, Any]]:
        return [self._catalog_info(n, c) for n, c in sorted(self._load()["catalogs"].items())]

    def catalog(self, name: str) -> dict[str, Any]:
        catalogs = self._load()["catalogs"]
        if name.lower() not in catalogs:
            raise _missing("CATALOG_DOES_NOT_EXIST", f"Catalog '{name}' does not exist.")
        return self._catalog_info(name.lower(), catalogs[name.lower()])

    def schemas(self, catalog_name: str) -> list[dict[str, Any]]:
        self.catalog(catalog_name)
        prefix = catalog_name.lower() + "."
        return [
            self._schema_info(full, s)
            for full, s in sorted(self._load()["schemas"].items())
            if full.startswith(prefix)
        ]

    def schema(self, full_name: str) -> dict[str, Any]:
        catalog_name, _, name = full_name.lower().partition(".")
        self.catalog(catalog_name)
        schemas = self._load()["schemas"]
        if not name or full_name.lower() not in schemas:
            raise _missing("SCHEMA_DOES_NOT_EXIST", f"Schema '{full_name}' does not exist.")
        return self._schema_info(full_name.lower(), schemas[full_name.lower()])

    def volumes(self, catalog_name: str, schema_name: str) -> list[dict[str, Any]]:
        self.schema(f"{catalog_name}.{schema_name}")
        prefix = f"{catalog_name}.{schema_name}.".lower()
        return [
            self._volume_info(full, v)
            for full, v in sorted(self._load()["volumes"].items())
            if full.startswith(prefix)
        ]

    def volume(self, full_name: str) -> dict[str, Any]:
        parts = full_name.lower().split(".")
        if len(parts) != 3:
            raise invalid(f"Volume name '{full_name}' must be <catalog>.<schema>.<volume>")
        self.schema(".".join(parts[:2]))
        volumes = self._load()["volumes"]
        if full_name.lower() not in volumes:
            raise _missing("RESOURCE_DOES_NOT_EXIST", f"Volume '{full_name}' does not exist.")
        return self._volume_info(full_name.lower(), volumes[full_name.lower()])

    def check_volume_path(self, path: str) -> None:
        """Refuse a /Volumes/<catalog>/<schema>/<volume>/... path whose volume does not exist,
        naming the first missing level, as the service does."""
        parts = path.strip("/").split("/")
        if len(parts) < 4 or parts[0] != "Volumes":
            raise invalid(f"{path}: a volume path is /Volumes/<catalog>/<schema>/<volume>/...")
        try:
            self.volume(".".join(parts[1:4]))
        except ApiError as error:
            raise ApiError(404, "NOT_FOUND", f"{path}: {error.message} Create it with the Unity "
                           "Catalog API (catalogs, schemas, volumes create).") from None

    # -- info dicts shaped like the SDK's CatalogInfo, SchemaInfo, VolumeInfo ---------------

    @staticmethod
    def _common(entry: dict[str, Any]) -> dict[str, Any]:
        info = {
            "owner": OWNER,
            "created_by": OWNER,
            "updated_by": OWNER,
            "created_at": entry["created_at"],
            "updated_at": entry["created_at"],
            "metastore_id": METASTORE_ID,
        }
        return info | {k: entry[k] for k in ("comment", "properties") if entry.get(k)}

    def _catalog_info(self, name: str, entry: dict[str, Any]) -> dict[str, Any]:
        return self._common(entry) | {
            "name": name,
            "full_name": name,
            "catalog_type": "MANAGED_CATALOG",
            "securable_type": "CATALOG",
            "isolation_mode": "OPEN",
        }

    def _schema_info(self, full_name: str, entry: dict[str, Any]) -> dict[str, Any]:
        catalog_name, name = full_name.split(".")
        return self._common(entry) | {
            "name": name,
            "catalog_name": catalog_name,
            "full_name": full_name,
            "catalog_type": "MANAGED_CATALOG",
        }

    def _volume_info(self, full_name: str, entry: dict[str, Any]) -> dict[str, Any]:
        catalog_name, schema_name, name = full_name.split(".")
        return self._common(entry) | {
            "name": name,
            "catalog_name": catalog_name,
            "schema_name": schema_name,
            "full_name": full_name,
            "volume_type": "MANAGED",
            "volume_id": entry["volume_id"],
            "storage_location": self._layout.volumes.joinpath(
                catalog_name, schema_name, name
            ).as_uri(),
        }

    # -- writing -----------------------------------------------------------------------------

    def _save(self, state: dict[str, Any]) -> None:
        write_private(self._file, json.dumps(state, indent=1, sort_keys=True))

    @staticmethod
    def _entry(body: dict[str, Any]) -> dict[str, Any]:
        entry = {"created_at": int(time.time() * 1000)}
        return entry | {k: body[k] for k in ("comment", "properties") if body.get(k)}

    def create_catalog(self, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        name = check_name("catalog", name)
        if name == HIVE_METASTORE:
            raise _exists("CATALOG_ALREADY_EXISTS", f"Catalog '{name}' already exists.")
        with self._write_lock:
            state = self._load()
            if name in state["catalogs"]:
                raise _exists("CATALOG_ALREADY_EXISTS", f"Catalog '{name}' already exists.")
            state["catalogs"][name] = self._entry(body or {})
            # As on the service, a new catalog has a `default` schema.
            state["schemas"][f"{name}.{DEFAULT_SCHEMA}"] = self._entry({})
            self._save(state)
        return self.catalog(name)

    def ensure_catalog(self, name: str) -> None:
        """Create the catalog unless it exists (the `serve --catalog` start-up flag)."""
        if name.lower() != HIVE_METASTORE and name.lower() not in self._load()["catalogs"]:
            self.create_catalog(name)

    def delete_catalog(self, name: str, force: bool) -> set[str]:
        """Deletes the catalog; returns the full names of its schemas (for the table journal)."""
        name = name.lower()
        self.catalog(name)
        with self._write_lock:
            state = self._load()
            schemas = {s for s in state["schemas"] if s.startswith(name + ".")}
            if not force and schemas - {f"{name}.{DEFAULT_SCHEMA}"}:
                raise ApiError(
                    400, "CATALOG_NOT_EMPTY",
                    f"Catalog '{name}' is not empty: it has schemas {sorted(schemas)}; "
                    "delete them first or pass force=true",
                )
            for full in [v for v in state["volumes"] if v.startswith(name + ".")]:
                del state["volumes"][full]
            for full in schemas:
                del state["schemas"][full]
            del state["catalogs"][name]
            self._save(state)
        shutil.rmtree(self._layout.volumes / name, ignore_errors=True)
        return schemas

    def create_schema(self, catalog_name: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        catalog_name = self.catalog(catalog_name)["name"]
        full_name = f"{catalog_name}.{check_name('schema', name)}"
        with self._write_lock:
            state = self._load()
            if full_name in state["schemas"]:
                raise _exists("SCHEMA_ALREADY_EXISTS", f"Schema '{full_name}' already exists.")
            state["schemas"][full_name] = self._entry(body)
            self._save(state)
        return self.schema(full_name)

    def delete_schema(self, full_name: str, force: bool, has_tables: bool) -> None:
        full_name = self.schema(full_name)["full_name"]
        with self._write_lock:
            state = self._load()
            volumes = [v for v in state["volumes"] if v.startswith(full_name + ".")]
            if not force and (volumes or has_tables):
                raise ApiError(
                    400, "SCHEMA_NOT_EMPTY",
                    f"Schema '{full_name}' is not empty (volumes or tables); delete them first "
                    "or pass force=true",
                )
            for volume in volumes:
                del state["volumes"][volume]
            del state["schemas"][full_name]
            self._save(state)
        shutil.rmtree(self._layout.volumes.joinpath(*full_name.split(".")), ignore_errors=True)

    def create_volume(self, catalog_name: str, schema_name: str, name: str,
                      body: dict[str, Any]) -> dict[str, Any]:
        schema = self.schema(f"{catalog_name}.{schema_name}")
        full_name = f"{schema['full_name']}.{check_name('volume', name)}"
        with self._write_lock:
            state = self._load()
            if full_name in state["volumes"]:
                raise _exists("RESOURCE_ALREADY_EXISTS", f"Volume '{full_name}' already exists.")
            state["volumes"][full_name] = self._entry(body) | {"volume_id": str(uuid.uuid4())}
            self._save(state)
        self._layout.volumes.joinpath(*full_name.split(".")).mkdir(parents=True, exist_ok=True)
        return self.volume(full_name)

    def delete_volume(self, full_name: str) -> None:
        full_name = self.volume(full_name)["full_name"]
        with self._write_lock:
            state = self._load()
            del state["volumes"][full_name]
            self._save(state)
        shutil.rmtree(self._layout.volumes.joinpath(*full_name.split(".")), ignore_errors=True)
