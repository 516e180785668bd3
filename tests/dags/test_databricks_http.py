"""The notebook DAG's operator against a real HTTP server speaking the Jobs API subset it uses:
the rendered payload carries the idempotency token, the task defers while the run is pending,
and killing the task (or its trigger) cancels the Databricks run."""

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from airflow.sdk.exceptions import TaskDeferred


class JobsApi(BaseHTTPRequestHandler):
    """Records requests; every submitted run stays PENDING until cancelled."""

    requests: list[tuple[str, str, dict]] = []

    def _reply(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        path = self.path.split("?")[0]
        self.requests.append((self.command, path, body))
        if path == "/api/2.2/jobs/runs/submit":
            self._reply({"run_id": 42})
        elif path == "/api/2.2/jobs/runs/get":
            self._reply(
                {
                    "run_id": 42,
                    "job_id": 7,
                    "run_page_url": "http://127.0.0.1/#job/7/run/42",
                    "state": {"life_cycle_state": "PENDING", "state_message": ""},
                }
            )
        else:
            self._reply({})

    do_GET = do_POST = _handle

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def jobs_api(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), JobsApi)
    JobsApi.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    conn = {
        "conn_type": "databricks",
        "host": "127.0.0.1",
        "port": server.server_address[1],
        "schema": "http",
        "password": "local-test-token",
    }
    monkeypatch.setenv("AIRFLOW_CONN_DATABRICKS_LOCAL", json.dumps(conn))
    yield JobsApi.requests
    server.shutdown()
    server.server_close()


class XComRecorder:
    """Stands in for the worker's XCom channel, which needs a running supervisor."""

    def __init__(self) -> None:
        self.pushed: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


def test_submit_defers_and_kill_cancels(jobs_api, dag_bag, render):
    task = render(dag_bag("local").dags["notebook_orders_ingest"].get_task("ingest_raw"))
    ti = XComRecorder()
    with pytest.raises(TaskDeferred) as deferred:
        task.execute({"ti": ti})

    submits = [body for method, path, body in jobs_api if path.endswith("/runs/submit")]
    assert len(submits) == 1
    assert submits[0]["idempotency_token"] == task.json["idempotency_token"]
    assert submits[0]["notebook_task"]["base_parameters"]["logical_date"] == "2025-03-14"
    assert ti.pushed["run_page_url"] == "http://127.0.0.1/#job/7/run/42"

    task.on_kill()
    asyncio.run(deferred.value.trigger.on_kill())
    cancels = [body for method, path, body in jobs_api if path.endswith("/runs/cancel")]
    assert cancels == [{"run_id": 42}, {"run_id": 42}]
