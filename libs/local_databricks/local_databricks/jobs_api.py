"""Jobs API handlers (jobs/* and jobs/runs/*): thin over the job store and the scheduler."""

from __future__ import annotations

import base64
import re
import threading
import time
from pathlib import Path
from typing import Any

from local_databricks.clusters_api import ClusterStore
from local_databricks.errors import ApiError, invalid, not_found
from local_databricks.job_rules import check_job_settings, check_tasks
from local_databricks.limits import (
    CreationRate,
    WorkspaceLimits,
    check_api_version,
    check_concurrent_task_runs,
    request_api_version,
)
from local_databricks.run_links import RunLinks
from local_databricks.run_views import output_dict, run_dict, task_run_dict
from local_databricks.scheduler import Run, Scheduler
from local_databricks.store import read_json, write_json

RUN_NOW_PARAMS = ("notebook_params", "python_params", "python_named_params", "sql_params",
                  "job_parameters")
# What run-now refuses beside job_parameters: "job_parameters can not be used in combination
# with notebook_params" (the list the Airflow provider keeps for the same reason).
TASK_PARAMS_EXCLUDING_JOB_PARAMETERS = ("notebook_params", "python_params", "jar_params",
                                        "spark_submit_params", "python_named_params",
                                        "dbt_commands")
# jobs/list page size: 20 unless asked, at most 100.
JOBS_PAGE_DEFAULT, JOBS_PAGE_MAX = 20, 100
RUNS_PAGE_DEFAULT, RUNS_PAGE_MAX = 20, 25  # runs/list: "a limit of 0 ... uses the maximum"
# Jobs API 2.2 returns at most this many elements of each array of jobs/get and runs/get; the
# rest follow with next_page_token (arrays with nothing more are empty on later pages).
ARRAY_PAGE_SIZE = 100
JOB_ARRAYS = ("tasks", "job_clusters", "parameters", "environments")
RUN_ARRAYS = ("tasks", "job_clusters", "job_parameters", "repair_history")
MAX_IDEMPOTENCY_TOKEN_LENGTH = 64  # "This token must have at most 64 characters."


class JobStore:
    """Job definitions, kept in STATE_DIR/jobs.json so they survive a restart."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        data = read_json(path, {"next_id": 1, "jobs": {}})
        self._next_id: int = data["next_id"]
        self.jobs: dict[int, dict[str, Any]] = {int(k): v for k, v in data["jobs"].items()}

    def _save(self) -> None:
        write_json(self._path, {"next_id": self._next_id, "jobs": self.jobs})

    def create(self, settings: dict[str, Any]) -> int:
        with self._lock:
            job_id, self._next_id = self._next_id, self._next_id + 1
            self.jobs[job_id] = {
                "job_id": job_id,
                "settings": settings,
                "created_time": int(time.time() * 1000),
                "creator_user_name": "local@emulator",
                "runs": 0,
            }
            self._save()
        return job_id

    def one_time_job_id(self) -> int:
        """An id for the anonymous job of a runs/submit run (not listed, not stored)."""
        with self._lock:
            job_id, self._next_id = self._next_id, self._next_id + 1
            self._save()
        return job_id

    def get(self, job_id: int) -> dict[str, Any]:
        if job_id not in self.jobs:
            raise not_found(f"Job {job_id} does not exist.")
        return self.jobs[job_id]

    def put_settings(self, job_id: int, settings: dict[str, Any]) -> None:
        with self._lock:
            self.get(job_id)["settings"] = settings
            self._save()

    def next_run_number(self, job_id: int) -> int:
        with self._lock:
            job = self.get(job_id)
            job["runs"] += 1
            self._save()
            return job["runs"]

    def delete(self, job_id: int) -> None:
        with self._lock:
            self.get(job_id)
            del self.jobs[job_id]
            self._save()


class JobsApi:
    def __init__(
        self,
        jobs: JobStore,
        scheduler: Scheduler,
        clusters: ClusterStore,
        links: RunLinks,
        limits: WorkspaceLimits | None = None,
    ) -> None:
        self.jobs, self.scheduler, self.clusters = jobs, scheduler, clusters
        self.links = links
        self.limits = limits or WorkspaceLimits()
        self._creations = CreationRate(self.limits)
        self._idempotency = scheduler.idempotency_tokens  # token -> run_id, kept on disk
        # A retry can race the request it retries: look up, start and record under one lock.
        self._idempotency_lock = threading.Lock()

    def routes(self) -> dict[tuple[str, str], tuple[str | None, Any]]:
        """(HTTP method, path after /api/2.x/) -> (SDK JobsAPI method for validation, handler)."""
        return {
            ("POST", "jobs/create"): ("create", self.create),
            ("POST", "jobs/reset"): ("reset", self.reset),
            ("POST", "jobs/update"): ("update", self.update),
            ("GET", "jobs/get"): ("get", self.get),
            ("GET", "jobs/list"): ("list", self.list),
            ("POST", "jobs/delete"): ("delete", self.delete),
            ("POST", "jobs/run-now"): ("run_now", self.run_now),
            ("POST", "jobs/runs/submit"): ("submit", self.submit),
            ("GET", "jobs/runs/get"): ("get_run", self.get_run),
            ("GET", "jobs/runs/get-output"): ("get_run_output", self.get_output),
            ("POST", "jobs/runs/cancel"): ("cancel_run", self.cancel),
            ("POST", "jobs/runs/cancel-all"): ("cancel_all_runs", self.cancel_all),
            ("GET", "jobs/runs/list"): ("list_runs", self.list_runs),
            ("POST", "jobs/runs/delete"): ("delete_run", self.delete_run),
            ("POST", "jobs/runs/repair"): ("repair_run", self.repair),
        }

    # -- jobs ------------------------------------------------------------------------------

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        body.pop("access_control_list", None)
        check_job_settings(body, self.clusters)
        self._creations.record()
        return {"job_id": self.jobs.create(body)}

    def reset(self, body: dict[str, Any]) -> dict[str, Any]:
        self.jobs.get(body["job_id"])
        check_job_settings(body["new_settings"], self.clusters, where="new_settings.")
        self.jobs.put_settings(body["job_id"], body["new_settings"])
        return {}

    def update(self, body: dict[str, Any]) -> dict[str, Any]:
        settings = _updated(
            self.jobs.get(body["job_id"])["settings"],
            body.get("new_settings", {}),
            body.get("fields_to_remove", []),
        )
        check_job_settings(settings, self.clusters)
        self.jobs.put_settings(body["job_id"], settings)
        return {}

    def get(self, body: dict[str, Any]) -> dict[str, Any]:
        job = self.jobs.get(body["job_id"])
        check_api_version(len(job["settings"].get("tasks", [])))
        found = {k: v for k, v in job.items() if k != "runs"}
        settings, next_token = _array_page(found["settings"], JOB_ARRAYS, body, "job")
        return found | {"settings": settings} | next_token

    def list(self, body: dict[str, Any]) -> dict[str, Any]:
        """jobs/list: the exact (case-insensitive) name filter, pages of ``limit`` (1-100,
        default 20) followed with ``next_page_token``, as Jobs API 2.2 pages them."""
        name = body.get("name")
        found = []
        for job in self.jobs.jobs.values():
            if name and job["settings"].get("name", "").lower() != name.lower():
                continue
            settings = job["settings"]
            if not body.get("expand_tasks"):
                settings = {k: v for k, v in settings.items() if k not in ("tasks", "job_clusters")}
            found.append(
                {"job_id": job["job_id"], "settings": settings, "created_time": job["created_time"]}
            )
        limit = body.get("limit") or JOBS_PAGE_DEFAULT
        if not 0 < limit <= JOBS_PAGE_MAX:
            raise invalid(f"limit must be between 1 and {JOBS_PAGE_MAX}, got {limit}")
        return _listing(found, "jobs", limit, body, "jobs/list")

    def delete(self, body: dict[str, Any]) -> dict[str, Any]:
        self.jobs.delete(body["job_id"])
        return {}

    def _idempotency_token(self, body: dict[str, Any]) -> str | None:
        """The request's idempotency token, refused when longer than the Jobs API allows or when
        its run was deleted (the service answers those with an error, not a new run)."""
        token = body.get("idempotency_token")
        if token and len(token) > MAX_IDEMPOTENCY_TOKEN_LENGTH:
            raise invalid(f"idempotency_token must have at most {MAX_IDEMPOTENCY_TOKEN_LENGTH} "
                          f"characters; it has {len(token)}")
        if token and (deleted := self._idempotency.deleted_run(token)) is not None:
            raise invalid(f"The run with idempotency_token {token!r} (run {deleted}) was "
                          "deleted; send another token to start a new run")
        return token

    def run_now(self, body: dict[str, Any]) -> dict[str, Any]:
        """jobs/run-now; a known ``idempotency_token`` returns the run it started, whatever its
        state (as runs/submit)."""
        with self._idempotency_lock:
            token = self._idempotency_token(body)
            if token and token in self._idempotency:
                run, _ = self._find(self._idempotency[token])
                return {"run_id": run.run_id, "number_in_job": run.number_in_job}
            started = self._run_now(body)
            if token:
                self._idempotency[token] = started["run_id"]
            return started

    def _run_now(self, body: dict[str, Any]) -> dict[str, Any]:
        job_id = body["job_id"]
        settings = self.jobs.get(job_id)["settings"]
        tasks = settings.get("tasks", [])
        if body.get("only"):
            tasks = [t for t in tasks if t["task_key"] in body["only"]]
        defaults = {p["name"]: p.get("default", "") for p in settings.get("parameters", [])}
        params = _run_parameters(body)
        if defaults or "job_parameters" in params:
            params["job_parameters"] = defaults | params.get("job_parameters", {})
        self._check_workspace_has_room()
        number = self.jobs.next_run_number(job_id)
        run = self.scheduler.start(
            run_name=settings.get("name", f"job-{job_id}"),
            tasks=tasks,
            job_id=job_id,
            job_clusters=settings.get("job_clusters"),
            params=params,
            timeout_seconds=settings.get("timeout_seconds", 0),
            number_in_job=number,
            max_concurrent_runs=settings.get("max_concurrent_runs", 1),
            queue=settings.get("queue", {}).get("enabled", True),
        )
        return {"run_id": run.run_id, "number_in_job": number}

    # -- runs ------------------------------------------------------------------------------

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._idempotency_lock:
            token = self._idempotency_token(body)
            if token and token in self._idempotency:
                return {"run_id": self._idempotency[token]}
            run_id = self._submit(body)
            if token:
                self._idempotency[token] = run_id
            return {"run_id": run_id}

    def _submit(self, body: dict[str, Any]) -> int:
        run_name = body.get("run_name", "Untitled")
        tasks = body.get("tasks")
        if not tasks:
            legacy = {k: v for k, v in body.items() if k not in _SUBMIT_ENVELOPE}
            # The one task takes the run's name as its key, in the characters keys may have.
            tasks = [{"task_key": re.sub(r"[^A-Za-z0-9_-]", "_", run_name)[:100] or "task",
                      **legacy}]
        check_tasks(tasks, self.clusters)
        self._check_workspace_has_room()
        self._creations.record()
        run = self.scheduler.start(
            run_name=run_name,
            tasks=tasks,
            job_id=self.jobs.one_time_job_id(),
            run_type="SUBMIT_RUN",
            timeout_seconds=body.get("timeout_seconds", 0),
        )
        return run.run_id

    def _check_workspace_has_room(self) -> None:
        running = sum(
            task.life_cycle_state == "RUNNING"
            for run in list(self.scheduler.runs.values())
            if not run.done
            for task in run.tasks
        )
        check_concurrent_task_runs(running, self.limits)

    def _find(self, run_id: int):
        found = self.scheduler.find(run_id)
        if found is None:
            raise not_found(f"Run {run_id} does not exist.")
        return found

    def _run(self, run_id: int) -> Run:
        run, task = self._find(run_id)
        if task is not None:
            raise invalid(f"Run {run_id} is a task run; pass the job run id {run.run_id}")
        return run

    def get_run(self, body: dict[str, Any]) -> dict[str, Any]:
        run, task = self._find(body["run_id"])
        if task is not None:
            return task_run_dict(run, task, self.links)
        check_api_version(len(run.tasks))
        found = run_dict(run, self.links, include_history=body.get("include_history", False))
        page, next_token = _array_page(found, RUN_ARRAYS, body, "run")
        return page | next_token

    def get_output(self, body: dict[str, Any]) -> dict[str, Any]:
        run, task = self._find(body["run_id"])
        if task is None:  # a job or submit run, even of one task: its tasks have the output
            raise invalid(
                "Retrieving the output of runs with multiple tasks is not supported. "
                "Please retrieve the output of each individual task run instead."
            )
        return output_dict(run, task, self.links)

    def cancel(self, body: dict[str, Any]) -> dict[str, Any]:
        self.scheduler.cancel(self._run(body["run_id"]))
        return {}

    def cancel_all(self, body: dict[str, Any]) -> dict[str, Any]:
        if "job_id" not in body and not body.get("all_queued_runs"):
            raise invalid("cancel-all needs job_id or all_queued_runs")
        for run in list(self.scheduler.runs.values()):
            if "job_id" in body:
                chosen = run.job_id == body["job_id"] and not run.done
            else:  # "all queued runs in the workspace", running ones carry on
                chosen = run.life_cycle_state == "QUEUED"
            if chosen:
                self.scheduler.cancel(run)
        return {}

    def list_runs(self, body: dict[str, Any]) -> dict[str, Any]:
        runs = sorted(self.scheduler.runs.values(), key=lambda r: -r.start_time)
        if "job_id" in body:
            runs = [r for r in runs if r.job_id == body["job_id"]]
        if body.get("active_only"):
            runs = [r for r in runs if not r.done]
        if body.get("completed_only"):
            runs = [r for r in runs if r.done]
        limit = body.get("limit", RUNS_PAGE_DEFAULT) or RUNS_PAGE_MAX  # 0: the maximum
        if not 0 < limit <= RUNS_PAGE_MAX:
            raise invalid(f"limit must be between 0 and {RUNS_PAGE_MAX}, got {limit}")
        listing = _listing(runs, "runs", limit, body, "jobs/runs/list")
        if "runs" in listing:
            listing["runs"] = [run_dict(r, self.links) for r in listing["runs"]]
        return listing

    def repair(self, body: dict[str, Any]) -> dict[str, Any]:
        """Rerun the chosen tasks of a finished run, and the tasks downstream of them, in the same
        run: new task run ids, a repair_history entry, the run RUNNING again."""
        run = self._run(body["run_id"])
        if not run.done:
            raise ApiError(
                400, "INVALID_STATE", f"Run {run.run_id} is still active; repair it once it ends"
            )
        latest = run.latest_repair_id
        if body.get("latest_repair_id") != latest:
            raise invalid(
                f"latest_repair_id must be {latest} for run {run.run_id} (the id of its latest "
                f"repair, from runs/get?include_history=true), got {body.get('latest_repair_id')}"
                if latest is not None
                else f"Run {run.run_id} has not been repaired yet: leave out latest_repair_id"
            )
        rerun_tasks, all_failed = body.get("rerun_tasks", []), body.get("rerun_all_failed_tasks")
        if bool(rerun_tasks) == bool(all_failed):
            raise invalid("Give exactly one of rerun_tasks or rerun_all_failed_tasks")
        known = {t.task_key for t in run.tasks}
        unknown = [k for k in rerun_tasks if k not in known]
        if unknown:
            raise invalid(
                f"Run {run.run_id} has no task {unknown[0]!r}; its tasks: {sorted(known)}"
            )
        params = _run_parameters(body)
        repair_id = self.scheduler.repair(
            run,
            rerun_tasks=rerun_tasks,
            all_failed=bool(all_failed),
            with_dependents=bool(body.get("rerun_dependent_tasks")),
            params=params,
        )
        return {"repair_id": repair_id}

    def delete_run(self, body: dict[str, Any]) -> dict[str, Any]:
        run = self._run(body["run_id"])
        if not run.done:
            raise ApiError(400, "INVALID_STATE", f"Run {run.run_id} is active; cancel it first")
        self.scheduler.delete(run)
        return {}


_SUBMIT_ENVELOPE = {
    "run_name",
    "timeout_seconds",
    "idempotency_token",
    "access_control_list",
    "email_notifications",
    "webhook_notifications",
    "notification_settings",
    "health",
    "queue",
    "run_as",
    "budget_policy_id",
    "usage_policy_id",
    "environments",
    "git_source",
    "tasks",
}


def _run_parameters(body: dict[str, Any]) -> dict[str, Any]:
    """The parameters a run-now or repair passes to the run's tasks."""
    if body.get("job_parameters"):
        for field in TASK_PARAMS_EXCLUDING_JOB_PARAMETERS:
            if body.get(field):
                raise invalid(f"job_parameters can not be used in combination with {field}")
    return {k: body[k] for k in RUN_NOW_PARAMS if body.get(k)}


def _listing(found: list, kind: str, limit: int, body: dict[str, Any], call: str) -> dict[str, Any]:
    """The page of ``found`` that ``body`` asks for (``page_token``, else ``offset``), as Jobs API
    2.2 lists: under ``kind`` (left out when empty), ``has_more`` and the page tokens."""
    token = body.get("page_token")
    offset = _page_offset(token, kind, call) if token else body.get("offset", 0)
    if offset < 0:
        raise invalid(f"offset must not be negative, got {offset}")
    page = found[offset : offset + limit]
    listing: dict[str, Any] = {"has_more": offset + limit < len(found)}
    if page:
        listing[kind] = page
    if listing["has_more"]:
        listing["next_page_token"] = _page_token(kind, offset + limit)
    if offset > 0:
        listing["prev_page_token"] = _page_token(kind, max(offset - limit, 0))
    return listing


def _page_token(kind: str, offset: int) -> str:
    """An opaque page token: what it pages and the offset of the page's first element."""
    return base64.urlsafe_b64encode(f"{kind}:{offset}".encode()).decode()


def _page_offset(token: str, kind: str, call: str) -> int:
    try:
        prefix, offset = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        if prefix == kind and int(offset) >= 0:
            return int(offset)
    except ValueError:
        pass
    raise invalid(f"page_token {token!r} is not a token from a previous {call} response")


def _array_page(holder: dict[str, Any], arrays: tuple[str, ...], body: dict[str, Any],
                kind: str) -> tuple[dict[str, Any], dict[str, str]]:
    """jobs/get and runs/get on API 2.2: ``holder`` with each of ``arrays`` cut to the page the
    request's page_token names, and {"next_page_token": ...} while any array has more."""
    token = body.get("page_token")
    longest = max(len(holder.get(name) or []) for name in arrays)
    if request_api_version.get() != "2.2" or (longest <= ARRAY_PAGE_SIZE and not token):
        return holder, {}
    offset = _page_offset(token, kind, f"{kind}s/get") if token else 0
    page = holder | {name: (holder.get(name) or [])[offset : offset + ARRAY_PAGE_SIZE]
                     for name in arrays}
    more = longest > offset + ARRAY_PAGE_SIZE
    return page, {"next_page_token": _page_token(kind, offset + ARRAY_PAGE_SIZE)} if more else {}


# Arrays of the job settings that jobs/update merges entry by entry, by these keys.
_MERGED_ARRAYS = {"tasks": "task_key", "job_clusters": "job_cluster_key", "parameters": "name",
                  "environments": "environment_key"}


def _updated(
    settings: dict[str, Any], new_settings: dict[str, Any], fields_to_remove: list[str]
) -> dict[str, Any]:
    """jobs/update: top-level fields are replaced, except arrays which are merged by their key
    (an entry with a new key is added, one with a known key replaced); fields_to_remove names
    top-level fields or entries such as tasks/<task_key>."""
    merged = dict(settings)
    for name, value in new_settings.items():
        key = _MERGED_ARRAYS.get(name)
        if key is None:
            merged[name] = value
            continue
        entries = {entry[key]: entry for entry in merged.get(name, [])}
        entries |= {entry[key]: entry for entry in value}
        merged[name] = list(entries.values())
    for field in fields_to_remove:
        name, _, entry_key = field.partition("/")
        if entry_key and name in _MERGED_ARRAYS:
            key = _MERGED_ARRAYS[name]
            merged[name] = [e for e in merged.get(name, []) if e[key] != entry_key]
        else:
            merged.pop(name, None)
    return merged
