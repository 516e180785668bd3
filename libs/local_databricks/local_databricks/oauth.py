"""OAuth machine-to-machine sign-in of one service principal, as a workspace answers it.

Test and prod deploys, and dbt's warehouse connection, sign in as a service principal with a
client id and secret (OAuth M2M). databricks-sdk finds the token endpoint in two steps, both
unauthenticated: the host metadata (`/.well-known/databricks-config`, whose `oidc_endpoint` it
needs) and the OIDC discovery document (`/oidc/.well-known/oauth-authorization-server`).
It then posts `grant_type=client_credentials&scope=all-apis` to `/oidc/v1/token` with the client
id and secret as HTTP Basic credentials (or as form fields), and sends the access token it gets
as a bearer token until shortly before it expires.

The host metadata is also answered below a path (`<any path>/.well-known/databricks-config`):
the local dbt profile's host is `http://127.0.0.1:PORT/local`, whose path absorbs the `:443`
databricks-sql-connector appends to a host, and databricks-sdk asks for the metadata below it.

Access tokens are an expiry and an HMAC of it under the client secret: they need no state, stay
valid across a restart with the same secret, and no longer pass once the secret changes. The
user-to-machine flow (a browser sign-in) is not emulated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs

TOKEN_LIFETIME_SECONDS = 3600
TOKEN_PREFIX = "local-oauth."
MAX_EXPIRY_DIGITS = 12  # seconds since the epoch for the next thirty thousand years
SCOPES = ("all-apis", "sql")
HOST_METADATA_PATH = "/.well-known/databricks-config"
DISCOVERY_PATH = "/oidc/.well-known/oauth-authorization-server"
TOKEN_PATH = "/oidc/v1/token"


class OAuthError(Exception):
    """An OAuth 2.0 error answer (RFC 6749, section 5.2): status, `error`, `error_description`."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status, self.error, self.description = status, error, description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True)
class ServicePrincipal:
    client_id: str
    client_secret: str = field(repr=False)

    @classmethod
    def generated(cls) -> ServicePrincipal:
        """A new principal: an application id (a UUID, as Databricks gives) and a secret."""
        return cls(str(uuid.uuid4()), "dose" + secrets.token_hex(32))


class OAuthServer:
    """The workspace's OIDC endpoints for one service principal."""

    def __init__(self, principal: ServicePrincipal) -> None:
        self.principal = principal
        self._key = principal.client_secret.encode()

    @staticmethod
    def host_metadata(base_url: str) -> dict[str, str]:
        return {"oidc_endpoint": f"{base_url}/oidc"}

    @staticmethod
    def discovery(base_url: str) -> dict[str, object]:
        return {
            "issuer": f"{base_url}/oidc",
            "token_endpoint": f"{base_url}{TOKEN_PATH}",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": list(SCOPES),
        }

    def issue(self, authorization: str, content_type: str, body: bytes) -> dict[str, object]:
        """The token answer to a POST of `body` to the token endpoint."""
        if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            raise OAuthError(400, "invalid_request", "The token request must be form-encoded "
                             "(Content-Type: application/x-www-form-urlencoded)")
        form = {key: values[-1] for key, values in parse_qs(body.decode(errors="replace")).items()}
        client_id, client_secret = _client_credentials(authorization, form)
        if not (hmac.compare_digest(client_id.encode(), self.principal.client_id.encode())
                and hmac.compare_digest(client_secret.encode(), self._key)):
            raise OAuthError(401, "invalid_client", "Client authentication failed")
        if form.get("grant_type") != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type",
                             f"grant_type {form.get('grant_type')!r} is not supported here; "
                             "use client_credentials")
        scopes = form.get("scope", "all-apis").split()
        if not scopes or any(scope not in SCOPES for scope in scopes):
            raise OAuthError(400, "invalid_scope",
                             f"scope {form.get('scope')!r}: request all-apis (or sql)")
        expiry = int(time.time()) + TOKEN_LIFETIME_SECONDS
        return {"access_token": f"{TOKEN_PREFIX}{expiry}.{self._signature(expiry)}",
                "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_SECONDS,
                "scope": " ".join(scopes)}  # fmt: skip

    def accepts(self, token: str) -> bool:
        """An access token this server issued that has not expired."""
        expiry, _, signature = token.removeprefix(TOKEN_PREFIX).partition(".")
        if not (token.startswith(TOKEN_PREFIX) and expiry.isascii() and expiry.isdigit()
                and len(expiry) <= MAX_EXPIRY_DIGITS):
            return False
        return (hmac.compare_digest(signature.encode(), self._signature(int(expiry)).encode())
                and int(expiry) > time.time())

    def _signature(self, expiry: int) -> str:
        message = f"{self.principal.client_id}:{expiry}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


def _client_credentials(authorization: str, form: dict[str, str]) -> tuple[str, str]:
    """(client id, secret) from HTTP Basic credentials (as databricks-sdk and the Airflow
    provider send them: not form-encoded first), else from the form's fields."""
    if authorization.startswith("Basic "):
        try:
            decoded = base64.b64decode(authorization[len("Basic "):], validate=True).decode()
        except ValueError:  # not base64, not ASCII, not UTF-8
            raise OAuthError(401, "invalid_client", "Client authentication failed") from None
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    if "client_id" in form:
        return form["client_id"], form.get("client_secret", "")
    raise OAuthError(401, "invalid_client", "Client authentication failed: send the client id "
                     "and secret as HTTP Basic credentials or as client_id and client_secret")
