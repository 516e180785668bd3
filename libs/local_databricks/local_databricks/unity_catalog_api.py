"""Unity Catalog REST handlers (/api/2.1/unity-catalog/catalogs, /schemas, /volumes).

Create, list, get and delete, as databricks-sdk's CatalogsAPI, SchemasAPI and VolumesAPI send
them; updates, grants and external volumes are not emulated. Path parameters ({name},
{full_name}) arrive in the request body.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from local_databricks import catalog
from local_databricks.engine import journal_changes
from local_databricks.errors import invalid
from local_databricks.unity_catalog import UnityCatalog


class UnityCatalogApi:
    def __init__(self, store: UnityCatalog, catalog_file: Path) -> None:
        self.store, self._catalog_file = store, catalog_file

    def routes(self) -> dict[tuple[str, str], tuple[tuple[str, str], Any]]:
        """(HTTP method, path after /api/2.x/) -> ((SDK API, method) for validation, handler)."""
        uc = "unity-catalog"
        return {
            ("POST", f"{uc}/catalogs"): (("catalogs", "create"), self.create_catalog),
            ("GET", f"{uc}/catalogs"): (("catalogs", "list"), self.list_catalogs),
            ("GET", f"{uc}/catalogs/{{name}}"): (("catalogs", "get"), self.get_catalog),
            ("DELETE", f"{uc}/catalogs/{{name}}"): (("catalogs", "delete"), self.delete_catalog),
            ("POST", f"{uc}/schemas"): (("schemas", "create"), self.create_schema),
            ("GET", f"{uc}/schemas"): (("schemas", "list"), self.list_schemas),
            ("GET", f"{uc}/schemas/{{full_name}}"): (("schemas", "get"), self.get_schema),
            ("DELETE", f"{uc}/schemas/{{full_name}}"): (("schemas", "delete"), self.delete_schema),
            ("POST", f"{uc}/volumes"): (("volumes", "create"), self.create_volume),
            ("GET", f"{uc}/volumes"): (("volumes", "list"), self.list_volumes),
            ("GET", f"{uc}/volumes/{{name}}"): (("volumes", "read"), self.get_volume),
            ("DELETE", f"{uc}/volumes/{{name}}"): (("volumes", "delete"), self.delete_volume),
        }

    def create_catalog(self, body: dict[str, Any]) -> dict[str, Any]:
        unsupported = [k for k in ("connection_name", "provider_name", "share_name") if k in body]
        if unsupported:
            raise invalid(
                f"{unsupported[0]}: foreign and shared catalogs are not emulated; create a "
                "managed catalog (name, comment, properties)"
            )
        return self.store.create_catalog(body["name"], body)

    def list_catalogs(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"catalogs": self.store.catalogs()}

    def get_catalog(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.store.catalog(body["name"])

    def delete_catalog(self, body: dict[str, Any]) -> dict[str, Any]:
        schemas = self.store.delete_catalog(body["name"], bool(body.get("force")))
        journal_changes(self._catalog_file)
        catalog.forget(self._catalog_file, schemas)
        return {}

    def create_schema(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.store.create_schema(body["catalog_name"], body["name"], body)

    def list_schemas(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"schemas": self.store.schemas(body["catalog_name"])}

    def get_schema(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.store.schema(body["full_name"])

    def delete_schema(self, body: dict[str, Any]) -> dict[str, Any]:
        full_name = self.store.schema(body["full_name"])["full_name"]
        journal_changes(self._catalog_file)
        has_tables = bool(catalog.tables_in(self._catalog_file, full_name))
        self.store.delete_schema(full_name, bool(body.get("force")), has_tables)
        catalog.forget(self._catalog_file, {full_name})
        return {}

    def create_volume(self, body: dict[str, Any]) -> dict[str, Any]:
        if body["volume_type"] != "MANAGED" or body.get("storage_location"):
            raise invalid(
                "External volumes need cloud storage and are not emulated; create a MANAGED "
                "volume (its files live in the emulator's state directory)"
            )
        return self.store.create_volume(
            body["catalog_name"], body["schema_name"], body["name"], body
        )

    def list_volumes(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"volumes": self.store.volumes(body["catalog_name"], body["schema_name"])}

    def get_volume(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.store.volume(body["name"])

    def delete_volume(self, body: dict[str, Any]) -> dict[str, Any]:
        self.store.delete_volume(body["name"])
        return {}
