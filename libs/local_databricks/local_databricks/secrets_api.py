"""Secrets API handlers (/api/2.0/secrets/...) over the SecretStore.

Scopes are Databricks-backed only (an Azure Key Vault scope cannot be emulated). ACLs are not
emulated: the emulator has one token, so there is one principal. `secrets/get` is refused as
the service refuses it to a workspace user outside a notebook: values are read by tasks with
dbutils.secrets.get, which reads the same store.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from local_databricks.errors import ApiError, invalid
from local_databricks.secrets import SecretStore


class SecretsApi:
    def __init__(self, store: SecretStore) -> None:
        self.store = store

    def routes(self) -> dict[tuple[str, str], tuple[tuple[str, str], Any]]:
        """(HTTP method, path after /api/2.x/) -> ((SDK API, method) for validation, handler)."""
        return {
            ("POST", "secrets/scopes/create"): (("secrets", "create_scope"), self.create_scope),
            ("GET", "secrets/scopes/list"): (("secrets", "list_scopes"), self.list_scopes),
            ("POST", "secrets/scopes/delete"): (("secrets", "delete_scope"), self.delete_scope),
            ("POST", "secrets/put"): (("secrets", "put_secret"), self.put),
            ("GET", "secrets/list"): (("secrets", "list_secrets"), self.list),
            ("POST", "secrets/delete"): (("secrets", "delete_secret"), self.delete),
            ("GET", "secrets/get"): (("secrets", "get_secret"), self.get),
        }

    def create_scope(self, body: dict[str, Any]) -> dict[str, Any]:
        backend = body.get("scope_backend_type", "DATABRICKS")
        if backend != "DATABRICKS" or "backend_azure_keyvault" in body:
            raise invalid(
                f"Scope backend {backend} cannot be emulated locally; create a DATABRICKS scope"
            )
        principal = body.get("initial_manage_principal")
        if principal not in (None, "users"):
            raise invalid(
                f"initial_manage_principal {principal!r}: the only supported principal is 'users'"
            )
        self.store.create_scope(body["scope"])
        return {}

    def list_scopes(self, body: dict[str, Any]) -> dict[str, Any]:
        scopes = [{"name": name, "backend_type": "DATABRICKS"} for name in self.store.list_scopes()]
        return {"scopes": scopes} if scopes else {}

    def delete_scope(self, body: dict[str, Any]) -> dict[str, Any]:
        self.store.delete_scope(body["scope"])
        return {}

    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        given = [field for field in ("string_value", "bytes_value") if field in body]
        if len(given) != 1:
            raise invalid("Exactly one of string_value and bytes_value must be specified")
        if given == ["string_value"]:
            value, value_type = body["string_value"].encode(), "string"
        else:
            try:
                value = base64.b64decode(body["bytes_value"], validate=True)
            except binascii.Error as error:
                raise invalid(f"bytes_value is not valid base64: {error}") from None
            value_type = "bytes"
        self.store.put(body["scope"], body["key"], value, value_type)
        return {}

    def list(self, body: dict[str, Any]) -> dict[str, Any]:
        secrets = [
            {"key": key, "last_updated_timestamp": updated}
            for key, updated in self.store.list_secrets(body["scope"]).items()
        ]
        return {"secrets": secrets} if secrets else {}

    def delete(self, body: dict[str, Any]) -> dict[str, Any]:
        self.store.delete(body["scope"], body["key"])
        return {}

    def get(self, body: dict[str, Any]) -> dict[str, Any]:
        raise ApiError(
            400, "BAD_REQUEST",
            "secrets/get answers only to dbutils inside a notebook or job on a cluster (the "
            "emulator's token is a workspace user, not an admin): read the value with "
            f"dbutils.secrets.get('{body['scope']}', '{body['key']}') in a task",
        )
