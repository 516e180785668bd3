"""Hostile and malformed requests against the real server process: each is refused with a
Databricks-style 4xx naming the bad input, no traceback or internal path in the answer, no
handler crash in the log, and nothing written to the state directory or beside it.

Requests go out over a raw socket so that paths, headers and bodies reach the server exactly
as written (HTTP clients normalise `..` and refuse bad Content-Length values).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
from pathlib import Path

import local_databricks
import pytest
import requests
from emulator.contract_client import call, fail_next_run, ok, wait_terminated
from local_databricks.run_links import RunLinks

MIB = 1024 * 1024
B64 = base64.b64encode(b"print(1)\n").decode()
A_FILE = "/Users/hostile/notebook"  # made before the snapshot: imports below it must fail
A_DBFS_FILE = "dbfs:/hostile/file"
PACKAGE_DIR = str(Path(local_databricks.__file__).resolve().parent)
NOT_SENT = object()  # leave a header out


def send(
    emulator: dict,
    method: str,
    target: str,
    body: bytes = b"",
    headers: dict | None = None,
    end_body: bool = False,
) -> tuple[int, str]:
    """(status, body text) of one request written byte for byte; the server closes after it."""
    fields = {
        "Host": f"127.0.0.1:{emulator['port']}",
        "Authorization": f"Bearer {emulator['token']}",
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
    } | (headers or {})
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in fields.items() if v is not NOT_SENT
    )
    with socket.create_connection(("127.0.0.1", emulator["port"]), timeout=60) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n" + body)
        if end_body:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2].decode("utf-8", "replace")


def j(value) -> bytes:
    return json.dumps(value).encode()


def chunked(data: bytes) -> bytes:
    return b"".join(
        f"{len(part):x}\r\n".encode() + part + b"\r\n"
        for part in (data[i : i + MIB] for i in range(0, len(data), MIB))
    ) + b"0\r\n\r\n"


def case(name, method, target, body=b"", status=400, code="INVALID_PARAMETER_VALUE", **options):
    return pytest.param(method, target, body, status, code, options, id=name)


IMPORT, MKDIRS = "/api/2.0/workspace/import", "/api/2.0/workspace/mkdirs"
DBFS_PUT = "/api/2.0/dbfs/put"
SUBMIT, FAULTS, CREATE = "/api/2.2/jobs/runs/submit", "/emulator/faults", "/api/2.2/jobs/create"
ALREADY = "RESOURCE_ALREADY_EXISTS"
MALFORMED = "MALFORMED_REQUEST"


def imported(path: str, **fields) -> bytes:
    return j({"path": path, "content": B64, "format": "AUTO"} | fields)


CASES = [
    # Paths that climb out of their file system.
    case("import-dotdot", "POST", IMPORT, imported("/Users/../../../escaped")),
    case("import-workspace-dotdot", "POST", IMPORT, imported("/Workspace/../../escaped")),
    case("mkdirs-dotdot", "POST", MKDIRS, j({"path": "/../escaped-dir"})),
    case("dbfs-put-dotdot", "POST", DBFS_PUT, j({"path": "dbfs:/../../escaped", "contents": B64})),
    case("files-put-dotdot", "PUT", "/api/2.0/fs/files/Users/../../escaped", b"x",
         headers={"Content-Type": "application/octet-stream"}),
    case("files-put-encoded-dotdot", "PUT", "/api/2.0/fs/files/%2E%2E/%2E%2E/escaped", b"x",
         headers={"Content-Type": "application/octet-stream"}),
    # Paths no file system holds.
    case("import-nul", "POST", IMPORT, imported("/Users/hostile/a\x00b")),
    case("get-status-nul", "GET", "/api/2.0/workspace/get-status?path=/Users/%00x"),
    case("files-put-nul", "PUT", "/api/2.0/fs/files/Users/hostile/a%00b", b"x",
         headers={"Content-Type": "application/octet-stream"}),
    case("import-lone-surrogate", "POST", IMPORT, imported("/Users/hostile/\ud800")),
    case("dbfs-put-lone-surrogate", "POST", DBFS_PUT, j({"path": "/x\udfff", "contents": B64})),
    case("import-long-name", "POST", IMPORT, imported("/Users/" + "n" * 300)),
    case("import-long-path", "POST", IMPORT, imported("/" + "/".join(["d" * 200] * 12))),
    # Content that is not base64.
    case("import-not-base64", "POST", IMPORT, j({"path": "/Users/hostile/b", "content": "no!"})),
    case("import-bad-padding", "POST", IMPORT, j({"path": "/Users/hostile/b", "content": "YQ"})),
    case("dbfs-put-not-base64", "POST", DBFS_PUT, j({"path": "/hostile/b", "contents": "@@@"})),
    # Imports where a folder is, or below a file.
    case("import-onto-root", "POST", IMPORT, imported("/", overwrite=True), code=ALREADY),
    case("import-onto-workspace-root", "POST", IMPORT, imported("/Workspace", overwrite=True),
         code=ALREADY),
    case("import-below-a-file", "POST", IMPORT, imported(f"{A_FILE}/child"), code=ALREADY),
    case("mkdirs-below-a-file", "POST", MKDIRS, j({"path": f"{A_FILE}/sub"}), code=ALREADY),
    case("dbfs-mkdirs-below-a-file", "POST", "/api/2.0/dbfs/mkdirs",
         j({"path": f"{A_DBFS_FILE}/sub"}), code=ALREADY),
    case("files-put-below-a-file", "PUT", f"/api/2.0/fs/files{A_FILE}/child", b"x", status=409,
         code="ALREADY_EXISTS", headers={"Content-Type": "application/octet-stream"}),
    # The workspace root and its special folders are never deleted.
    case("delete-root", "POST", "/api/2.0/workspace/delete", j({"path": "/", "recursive": True}),
         status=403, code="PERMISSION_DENIED"),
    case("delete-workspace-root", "POST", "/api/2.0/workspace/delete",
         j({"path": "/Workspace", "recursive": True}), status=403, code="PERMISSION_DENIED"),
    case("delete-users", "POST", "/api/2.0/workspace/delete",
         j({"path": "/Users", "recursive": True}), status=403, code="PERMISSION_DENIED"),
    # JSON the service's parser refuses.
    case("json-nested-100000", "POST", CREATE, b"[" * 100_000 + b"]" * 100_000, code=MALFORMED),
    case("json-nested-100", "POST", CREATE, b'{"a":' * 100 + b"1" + b"}" * 100, code=MALFORMED),
    case("json-nan", "POST", "/api/2.2/jobs/runs/cancel", b'{"run_id": NaN}', code=MALFORMED),
    case("json-invalid-utf8", "POST", CREATE, b'{"name": "\xff"}', code=MALFORMED),
    # Run ids that are not int64 in ASCII digits.
    case("run-id-superscript", "GET", "/api/2.2/jobs/runs/get?run_id=%C2%B2", code=MALFORMED),
    case("run-id-arabic-indic", "GET", "/api/2.2/jobs/runs/get?run_id=%D9%A3", code=MALFORMED),
    case("run-id-json-superscript", "POST", "/api/2.2/jobs/runs/cancel", j({"run_id": "²"}),
         code=MALFORMED),
    case("run-id-5000-digits", "GET", "/api/2.2/jobs/runs/get?run_id=" + "9" * 5000,
         code=MALFORMED),
    case("run-id-over-int64", "GET", "/api/2.2/jobs/runs/get?run_id=9223372036854775808",
         code=MALFORMED),
    case("usage-run-id-superscript", "GET", "/emulator/usage?run_id=%C2%B2"),
    case("run-page-superscript", "GET", "/run/%C2%B2", status=404, code="RESOURCE_DOES_NOT_EXIST"),
    # runs/submit with nothing to run.
    case("submit-empty-body", "POST", SUBMIT, b""),
    case("submit-empty-object", "POST", SUBMIT, b"{}"),
    case("submit-no-tasks", "POST", SUBMIT, j({"run_name": "nothing", "tasks": []})),
    # Fault parameters that would make a run unstoppable or fault the fault endpoint itself.
    case("fault-negative-seconds", "POST", FAULTS, j({"run": "slow_start", "seconds": -1})),
    case("fault-infinity", "POST", FAULTS, b'{"run": "slow_finish", "seconds": Infinity}',
         code=MALFORMED),
    case("fault-overflowing-seconds", "POST", FAULTS, b'{"run": "slow_start", "seconds": 1e999}'),
    case("fault-nan-seconds", "POST", FAULTS, b'{"run": "slow_start", "seconds": NaN}',
         code=MALFORMED),
    case("fault-seconds-as-text", "POST", FAULTS, j({"run": "slow_start", "seconds": "5"})),
    case("fault-empty-endpoint", "POST", FAULTS, j({"endpoint": "", "status": 429})),
    case("fault-slash-endpoint", "POST", FAULTS, j({"endpoint": "/", "status": 429})),
    # Content-Length values that are not a byte count, or beyond the route's limit.
    case("content-length-negative", "POST", CREATE, headers={"Content-Length": "-1"},
         code=MALFORMED),
    case("content-length-text", "POST", CREATE, headers={"Content-Length": "abc"}, code=MALFORMED),
    case("content-length-fraction", "POST", CREATE, headers={"Content-Length": "1.5"},
         code=MALFORMED),
    case("content-length-non-ascii-digit", "POST", CREATE, headers={"Content-Length": "\xb2"},
         code=MALFORMED),
    case("jobs-request-over-10mb", "POST", CREATE, headers={"Content-Length": str(11 * MIB)}),
    case("jobs-request-chunked-over-10mb", "POST", CREATE,
         chunked(b'{"name": "' + b"x" * (11 * MIB) + b'"}'),
         headers={"Content-Length": NOT_SENT, "Transfer-Encoding": "chunked"}),
    case("import-body-over-limit", "POST", IMPORT, headers={"Content-Length": str(17 * MIB)},
         code="MAX_NOTEBOOK_SIZE_EXCEEDED"),
    case("import-content-over-10mb", "POST", IMPORT,
         j({"path": "/Users/hostile/big", "format": "RAW",
            "content": base64.b64encode(b"x" * (10 * MIB + 1)).decode()}),
         code="MAX_NOTEBOOK_SIZE_EXCEEDED"),
    case("dbfs-put-inline-over-1mb", "POST", DBFS_PUT,
         j({"path": "/hostile/big", "contents": base64.b64encode(b"x" * (MIB + 1)).decode()}),
         code="MAX_BLOCK_SIZE_EXCEEDED"),
    case("files-upload-over-5gib", "PUT", "/api/2.0/fs/files/Users/hostile/huge",
         headers={"Content-Length": str(6 * 1024 * MIB), "Content-Type": "application/x"}),
    case("body-shorter-than-length", "POST", CREATE, b'{"name":',
         headers={"Content-Length": "100"}, code=MALFORMED, end_body=True),
    # Whoever lacks the token is refused before a byte of the body is read.
    case("unauthenticated-2gb-body", "POST", CREATE, status=401, code="UNAUTHENTICATED",
         headers={"Authorization": NOT_SENT, "Content-Length": str(2048 * MIB)}),
    case("wrong-token-2gb-body", "POST", CREATE, status=403, code="PERMISSION_DENIED",
         headers={"Authorization": "Bearer not-the-token", "Content-Length": str(2048 * MIB)}),
    # A page elsewhere whose name was rebound to 127.0.0.1 (DNS rebinding).
    case("foreign-host", "GET", "/api/2.2/jobs/list", status=403, code="PERMISSION_DENIED",
         headers={"Host": "attacker.example:80"}),
    case("foreign-host-suffix", "GET", "/api/2.2/jobs/list", status=403, code="PERMISSION_DENIED",
         headers={"Host": "localhost.attacker.example"}),
    case("missing-host", "GET", "/api/2.2/jobs/list", status=403, code="PERMISSION_DENIED",
         headers={"Host": NOT_SENT}),
]


@pytest.fixture(scope="module")
def prepared(emulator):
    """The files some cases need to exist, made through the API before any snapshot."""
    ok(requests.post(f"{emulator['url']}{IMPORT}", data=imported(A_FILE, format="RAW"),
                     headers={"Authorization": f"Bearer {emulator['token']}"}, timeout=30))
    ok(requests.post(f"{emulator['url']}{DBFS_PUT}", data=j({"path": A_DBFS_FILE, "contents": B64}),
                     headers={"Authorization": f"Bearer {emulator['token']}"}, timeout=30))
    return emulator


def snapshot(state_dir: Path) -> dict[str, tuple[int, int] | None]:
    """Every entry of the state directory (but the server log) and beside it, with size and
    modification time of each file."""
    entries: dict[str, tuple[int, int] | None] = {
        f"../{p.name}": None for p in state_dir.parent.iterdir()
    }
    for folder, dirs, files in os.walk(state_dir):
        for name in dirs:
            entries[os.path.relpath(os.path.join(folder, name), state_dir)] = None
        for name in files:
            path = Path(folder, name)
            if path != state_dir / "server.log":
                info = path.stat()
                entries[str(path.relative_to(state_dir))] = (info.st_size, info.st_mtime_ns)
    return entries


@pytest.mark.parametrize(("method", "target", "body", "status", "code", "options"), CASES)
def test_hostile_request_is_refused_cleanly(prepared, method, target, body, status, code, options):
    state_dir = Path(prepared["state_dir"])
    log = state_dir / "server.log"
    log_size, before = log.stat().st_size, snapshot(state_dir)

    answer_status, text = send(prepared, method, target, body, **options)

    assert (answer_status, json.loads(text)["error_code"]) == (status, code), text
    assert json.loads(text)["message"]
    for leak in ("Traceback", str(state_dir), PACKAGE_DIR):
        assert leak not in text
    assert snapshot(state_dir) == before
    with log.open("rb") as file:
        file.seek(log_size)
        assert b"Traceback" not in file.read()


def test_refusal_names_the_bad_input(prepared):
    status, text = send(prepared, "POST", IMPORT, imported("/Users/../etc/passwd"))
    assert status == 400 and "/Users/../etc/passwd" in json.loads(text)["message"]
    status, text = send(prepared, "GET", "/api/2.2/jobs/runs/get?run_id=%C2%B2")
    assert "run_id" in json.loads(text)["message"]


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "localhost",
                                  "[::1]:{port}", "LOCALHOST:{port}"])
def test_loopback_host_names_are_answered(emulator, host):
    status, text = send(emulator, "GET", "/api/2.2/jobs/list",
                        headers={"Host": host.format(port=emulator["port"])})
    assert status == 200, text


def test_run_page_needs_the_token_or_its_signed_link(emulator):
    fail_next_run(emulator)
    submitted = {
        "run_name": "run-page",
        "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/Users/hostile/none"}}],
    }
    run_id = ok(call(emulator, "POST", "jobs/runs/submit", submitted))["run_id"]
    run = wait_terminated(emulator, run_id)
    page_url, task_url = run["run_page_url"], run["tasks"][0]["run_page_url"]
    assert page_url.startswith(f"{emulator['url']}/run/{run_id}?sig=")
    plain = f"/run/{run_id}"
    signature = page_url.partition("?")[2]
    sig = signature.removeprefix("sig=")
    tampered = f"sig={'1' if sig[0] == '0' else '0'}{sig[1:]}"

    for url in (page_url, task_url):  # what a browser opens from an Airflow task log
        page = requests.get(url, timeout=10)
        assert page.status_code == 200 and f"run {run_id}" in page.text
    assert send(emulator, "GET", plain, headers={"Authorization": NOT_SENT})[0] == 401
    no_token = {"Authorization": NOT_SENT}
    assert send(emulator, "GET", f"{plain}?{tampered}", headers=no_token)[0] == 401
    other_run = f"/run/{run_id + 1}?{signature}"
    assert send(emulator, "GET", other_run, headers={"Authorization": NOT_SENT})[0] == 401
    assert send(emulator, "GET", plain)[0] == 200  # the bearer token opens it too
    assert send(emulator, "GET", plain, headers={"Authorization": "Bearer nope"})[0] == 403
    foreign = {"Host": "attacker.example", "Authorization": NOT_SENT}
    assert send(emulator, "GET", f"{plain}?{signature}", headers=foreign)[0] == 403


def test_run_links_key_is_private_and_kept_across_restarts(tmp_path):
    key_file = tmp_path / "run-links.key"
    first = RunLinks.load(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert RunLinks.load(key_file).page(7) == first.page(7)
    assert first.page(7) != first.page(8)
    assert RunLinks.load(tmp_path / "other.key").page(7) != first.page(7)
