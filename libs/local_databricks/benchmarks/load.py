"""Load benchmark of the local Databricks emulator: many runs and many polls at once.

Starts the emulator on 127.0.0.1 with a fresh state dir, then prints:
- drain: --runs one-line notebook runs submitted at once (one thread each, plain HTTP with no
  retries, so every connection error counts), polled until all have ended: errors, runs per
  minute, peak memory of the server with every process under it, and the most clusters alive at
  once (Sail processes counted in the process tree, and the server's own count);
- polls: --polls concurrent runs/get requests (one thread and one connection each): latency
  p50/p95 and errors. The client threads share the machine with the server, so on few cores the
  figures include the client's own cost.

    ./pants run libs/local_databricks:load-benchmark -- --runs 200 --polls 500
"""

from __future__ import annotations

import argparse
import base64
import statistics
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests
from benchmarks.emulator_server import start_emulator, stop_emulator
from local_databricks.processes import descendants

NOTEBOOK = "/Shared/benchmark/one_line"
TERMINAL = ("TERMINATED", "INTERNAL_ERROR", "SKIPPED")
PAGE_SIZE = 4096


class Api:
    """Plain requests, one connection each: a refused or reset connection is an error here."""

    def __init__(self, info: dict) -> None:
        self.url, self.headers = info["url"], {"Authorization": f"Bearer {info['token']}"}

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(
            method, f"{self.url}{path}", headers=self.headers, timeout=300, **kwargs
        )


class ProcessTreeSampler:
    """Every half second: the summed RSS of the server and its descendants, and how many Sail
    computes run among them; keeps the peaks."""

    def __init__(self, root_pid: int) -> None:
        self._root = root_pid
        self.peak_rss = self.peak_computes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ProcessTreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            pids = descendants(self._root) | {self._root}
            self.peak_rss = max(self.peak_rss, sum(_rss(pid) for pid in pids))
            computes = sum("local_databricks.sail_server" in _cmdline(pid) for pid in pids)
            self.peak_computes = max(self.peak_computes, computes)


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
    except (OSError, IndexError):
        return 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _at_once(count: int, request) -> tuple[list, Counter]:
    """Run `request(i)` in `count` threads released together; (results, errors by kind)."""
    results: list = [None] * count
    errors: Counter = Counter()
    barrier = threading.Barrier(count)

    def one(index: int) -> None:
        barrier.wait()
        try:
            results[index] = request(index)
        except requests.RequestException as error:
            errors[type(error).__name__] += 1

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def drain(api: Api, runs: int) -> tuple[list[int], float]:
    """Submit `runs` runs at once, wait for all; (run ids, runs per minute)."""
    body = {"run_name": "load", "tasks": [{"task_key": "t", "notebook_task": {
        "notebook_path": NOTEBOOK}}]}  # fmt: skip

    def submit(_: int) -> int | None:
        answer = api.call("POST", "/api/2.2/jobs/runs/submit", json=body)
        return answer.json()["run_id"] if answer.status_code == 200 else None

    started = time.time()
    run_ids, errors = _at_once(runs, submit)
    accepted = [run_id for run_id in run_ids if run_id is not None]
    refused = runs - len(accepted) - sum(errors.values())
    print(f"submitted {runs} at once in {time.time() - started:.1f} s: {len(accepted)} accepted, "
          f"{refused} refused, connection errors {dict(errors) or 0}", flush=True)  # fmt: skip
    if not accepted:
        raise SystemExit("no run was accepted; see the server log")
    pending, ended, results = set(accepted), [], Counter()
    while pending:
        time.sleep(2)
        for run_id in list(pending):
            run = api.call("GET", "/api/2.2/jobs/runs/get", params={"run_id": run_id}).json()
            if run["state"]["life_cycle_state"] in TERMINAL:
                pending.discard(run_id)
                ended.append(run["end_time"] / 1000)
                results[run["state"].get("result_state")] += 1
        print(f"  {len(accepted) - len(pending)}/{len(accepted)} runs ended "
              f"({time.time() - started:.0f} s)", flush=True)  # fmt: skip
    print(f"results: {dict(results)}")
    return accepted, len(accepted) / (max(ended) - started) * 60


def polls(api: Api, run_id: int, count: int) -> tuple[list[float], Counter]:
    def get(_: int) -> float:
        sent = time.monotonic()
        answer = api.call("GET", "/api/2.2/jobs/runs/get", params={"run_id": run_id})
        answer.raise_for_status()
        return time.monotonic() - sent

    latencies, errors = _at_once(count, get)
    return sorted(x for x in latencies if x is not None), errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--polls", type=int, default=500)
    parser.add_argument("--max-clusters", type=int, help="the server's pool size (its default "
                        "if not given)")  # fmt: skip
    args = parser.parse_args()
    pool = ["--max-clusters", str(args.max_clusters)] if args.max_clusters else []
    with tempfile.TemporaryDirectory(prefix="emulator-load-") as tmp:
        proc, info = start_emulator(Path(tmp), *pool)
        try:
            api = Api(info)
            source = "# Databricks notebook source\ndbutils.notebook.exit('ok')\n"
            api.call("POST", "/api/2.0/workspace/mkdirs", json={"path": "/Shared/benchmark"})
            api.call("POST", "/api/2.0/workspace/import", json={
                "path": NOTEBOOK, "format": "SOURCE", "language": "PYTHON", "overwrite": True,
                "content": base64.b64encode(source.encode()).decode()})  # fmt: skip
            with ProcessTreeSampler(proc.pid) as sampler:
                run_ids, per_minute = drain(api, args.runs)
            usage = api.call("GET", "/emulator/usage").json()
            latencies, errors = polls(api, run_ids[0], args.polls)
        finally:
            stop_emulator(proc)
    print(f"{len(run_ids)} one-line runs drained: {per_minute:.1f} runs/minute; peak memory "
          f"(server and children) {sampler.peak_rss / 2**20:.0f} MiB; clusters alive at most: "
          f"{sampler.peak_computes} Sail processes seen, {usage['clusters_alive_peak']} by the "
          f"server's count")  # fmt: skip
    if latencies:
        p50 = statistics.median(latencies)
        p95 = latencies[max(int(len(latencies) * 0.95) - 1, 0)]
        print(f"{args.polls} concurrent runs/get: p50 {p50 * 1000:.0f} ms, "
              f"p95 {p95 * 1000:.0f} ms, errors {dict(errors) or 0}")  # fmt: skip
    else:
        print(f"{args.polls} concurrent runs/get: all failed {dict(errors)}")


if __name__ == "__main__":
    main()
