"""A service principal's OAuth M2M sign-in on the emulator, as test and prod deploys sign in on a
workspace: databricks-sdk with a client id and secret finds the token endpoint from the host
metadata and the OIDC discovery document, gets an access token and calls the APIs with it; a
wrong secret, a bad token request and a forged or foreign token are refused as OAuth and the
workspace refuse them."""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.parse
import urllib.request

import pytest
from conftest import serve_emulator
from databricks.sdk import WorkspaceClient


def post_token(url: str, form: dict[str, str], basic: tuple[str, str] | None = None,
               content_type: str = "application/x-www-form-urlencoded") -> tuple[int, dict]:
    headers = {"Content-Type": content_type}
    if basic:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(basic).encode()).decode()
    body = (json.dumps(form) if content_type == "application/json"
            else urllib.parse.urlencode(form)).encode()
    request = urllib.request.Request(f"{url}/oidc/v1/token", body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def list_jobs_status(url: str, token: str) -> int:
    request = urllib.request.Request(f"{url}/api/2.2/jobs/list",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def principal(emulator) -> tuple[str, str]:
    return emulator["client_id"], emulator["client_secret"]


def test_databricks_sdk_signs_in_a_service_principal_and_calls_the_apis(emulator, caplog):
    client_id, client_secret = principal(emulator)
    with caplog.at_level(logging.WARNING, logger="databricks.sdk"):
        client = WorkspaceClient(host=emulator["url"], client_id=client_id,
                                 client_secret=client_secret)
        created = client.jobs.create(name="signed-in-as-a-service-principal")

    assert client.config.auth_type == "oauth-m2m"
    assert client.jobs.get(created.job_id).settings.name == "signed-in-as-a-service-principal"
    sent = client.config.authenticate()["Authorization"]
    assert sent.startswith("Bearer ") and emulator["token"] not in sent
    # The host metadata was found: the SDK's fallback warning is not logged.
    assert not [r for r in caplog.records if "host metadata" in r.getMessage()]


def test_a_wrong_secret_is_refused_by_the_token_endpoint(emulator):
    client_id, _ = principal(emulator)
    client = WorkspaceClient(host=emulator["url"], client_id=client_id, client_secret="dose0000")

    with pytest.raises(ValueError, match="invalid_client: Client authentication failed"):
        client.jobs.list().__next__()


def test_the_token_endpoint_answers_as_oauth_does(emulator):
    url, credentials = emulator["url"], principal(emulator)
    grant = {"grant_type": "client_credentials", "scope": "all-apis"}

    status, issued = post_token(url, grant, basic=credentials)
    assert status == 200
    assert (issued["token_type"], issued["expires_in"], issued["scope"]) == ("Bearer", 3600,
                                                                              "all-apis")
    assert list_jobs_status(url, issued["access_token"]) == 200
    # client_secret_post: the credentials as form fields.
    posted = dict(zip(("client_id", "client_secret"), credentials, strict=True))
    assert post_token(url, grant | posted)[0] == 200

    refusals = {
        "json body": post_token(url, grant, credentials, content_type="application/json"),
        "no credentials": post_token(url, grant),
        "wrong client": post_token(url, grant, basic=("someone-else", credentials[1])),
        "user grant": post_token(url, grant | {"grant_type": "authorization_code"}, credentials),
        "unknown scope": post_token(url, grant | {"scope": "all-apis admin"}, credentials),
    }
    assert {what: (status, body["error"]) for what, (status, body) in refusals.items()} == {
        "json body": (400, "invalid_request"),
        "no credentials": (401, "invalid_client"),
        "wrong client": (401, "invalid_client"),
        "user grant": (400, "unsupported_grant_type"),
        "unknown scope": (400, "invalid_scope"),
    }


def test_malformed_credentials_are_refused_not_failed_on(emulator):
    url = emulator["url"]
    for token in ("local-oauth.\u00b2.00", "local-oauth." + "9" * 5000 + ".00", "local-oauth."):
        assert list_jobs_status(url, token) == 403
    request = urllib.request.Request(
        f"{url}/oidc/v1/token", b"grant_type=client_credentials",
        {"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Basic \u00e9"},
        method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert (refused.value.code, json.load(refused.value)["error"]) == (401, "invalid_client")


def test_a_forged_token_or_one_of_a_former_secret_is_refused(tmp_path):
    grant = {"grant_type": "client_credentials", "scope": "all-apis"}
    first = ("11111111-2222-3333-4444-555555555555", "dose" + "a" * 64)
    with serve_emulator(tmp_path, "--client-id", first[0], "--client-secret", first[1]) as info:
        token = post_token(info["url"], grant, basic=first)[1]["access_token"]
        prefix, expiry, signature = token.split(".")
        forged = f"{prefix}.{int(expiry) + 86400}.{signature}"  # a later expiry, same signature
        assert list_jobs_status(info["url"], forged) == 403
    with serve_emulator(tmp_path, "--client-id", first[0], "--client-secret", first[1]) as info:
        assert list_jobs_status(info["url"], token) == 200  # the same secret after a restart
    with serve_emulator(tmp_path, "--client-id", first[0], "--client-secret", "dose" + "b" * 64
                        ) as info:
        assert list_jobs_status(info["url"], token) == 403  # the secret was rotated
