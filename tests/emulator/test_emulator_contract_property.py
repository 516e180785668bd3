"""Property: every request built from databricks-sdk's own dataclasses is accepted.

Hypothesis builds JobSettings and SubmitTask objects field by field from the SDK's type hints
(empty lists and maps included), keeping only what the local engine can run: a runtime from its
table, one Python task type per task, no cluster references. Each object is sent both as the
SDK sends it (`as_dict()`, which leaves out empty containers) and with its empty containers
kept, to jobs/create, jobs/reset, jobs/update and jobs/runs/submit.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from typing import Any

from emulator.contract_client import call, fail_next_run, ok
from databricks.sdk.service import compute, jobs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from local_databricks.executor import SUPPORTED_KINDS
from local_databricks.runtimes import RUNTIMES

MAX_DEPTH = 4
TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-./", min_size=1, max_size=8)
# Fields set by the generator's own rules, whatever the SDK allows in them.
TASK_KINDS = {
    "notebook_task": st.builds(jobs.NotebookTask, notebook_path=TEXT.map("/Shared/".__add__)),
    "spark_python_task": st.builds(jobs.SparkPythonTask, python_file=TEXT.map("dbfs:/".__add__)),
    "python_wheel_task": st.builds(jobs.PythonWheelTask, package_name=TEXT, entry_point=TEXT),
}
assert set(TASK_KINDS) == set(SUPPORTED_KINDS)
REFERENCES = {"existing_cluster_id", "job_cluster_key", "depends_on", "environment_key"}


def _for_type(tp: Any, depth: int) -> st.SearchStrategy:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        (inner,) = (a for a in typing.get_args(tp) if a is not type(None))
        return _for_type(inner, depth)
    if origin is list:
        return st.lists(_for_type(typing.get_args(tp)[0], depth), max_size=2)
    if origin is dict:
        return st.dictionaries(TEXT, _for_type(typing.get_args(tp)[1], depth), max_size=2)
    if dataclasses.is_dataclass(tp):
        return _dataclass(tp, depth + 1)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(list(tp))
    return {
        str: TEXT,
        int: st.integers(0, 10**6),
        float: st.floats(0, 1000, allow_nan=False),
        bool: st.booleans(),
    }[tp]


@functools.cache
def _dataclass(cls: type, depth: int) -> st.SearchStrategy:
    """cls with its required fields always set and each optional one set or None; past
    MAX_DEPTH optional fields stay None, so recursive types end."""
    fields = {}
    for name, tp in typing.get_type_hints(cls).items():
        optional = type(None) in typing.get_args(tp)
        if optional and (depth > MAX_DEPTH or name.endswith("_task") or name in REFERENCES):
            fields[name] = st.none()
        elif name == "spark_version":
            fields[name] = st.sampled_from(sorted(RUNTIMES))
        elif optional:
            fields[name] = st.none() | st.deferred(lambda tp=tp: _for_type(tp, depth))
        else:
            fields[name] = st.deferred(lambda tp=tp: _for_type(tp, depth))
    strategy = st.builds(cls, **fields)
    if cls in (jobs.Task, jobs.SubmitTask):
        strategy = st.tuples(strategy, st.sampled_from(sorted(TASK_KINDS))).flatmap(
            lambda pair: TASK_KINDS[pair[1]].map(
                lambda body, pair=pair: dataclasses.replace(pair[0], **{pair[1]: body})
            )
        )
    return strategy


def _unique_task_keys(tasks: list) -> list:
    return [dataclasses.replace(t, task_key=f"task_{i}") for i, t in enumerate(tasks or [])]


JOB_SETTINGS = _dataclass(jobs.JobSettings, 0).map(
    lambda s: dataclasses.replace(s, tasks=_unique_task_keys(s.tasks), job_clusters=None)
)
SUBMIT_TASKS = st.lists(_dataclass(jobs.SubmitTask, 1), min_size=1, max_size=3).map(
    _unique_task_keys
)


def _with_empty_containers(value: Any) -> Any:
    """The JSON of an SDK object with its empty lists and maps kept (as_dict() drops them)."""
    if dataclasses.is_dataclass(value):
        fields = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
        return {k: _with_empty_containers(v) for k, v in fields if v is not None}
    if isinstance(value, list):
        return [_with_empty_containers(v) for v in value]
    if isinstance(value, dict):
        return {k: _with_empty_containers(v) for k, v in value.items()}
    return value.value if isinstance(value, enum.Enum) else value


def _both_shapes(obj: Any) -> list[dict[str, Any]]:
    return [obj.as_dict(), _with_empty_containers(obj)]


CONTRACT = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@CONTRACT
@given(job_settings=JOB_SETTINGS)
def test_job_settings_are_accepted_by_create_reset_and_update(emulator, job_settings):
    for body in _both_shapes(job_settings):
        job_id = ok(call(emulator, "POST", "jobs/create", body))["job_id"]
        ok(call(emulator, "POST", "jobs/reset", {"job_id": job_id, "new_settings": body}))
        ok(call(emulator, "POST", "jobs/update", {"job_id": job_id, "new_settings": body}))
        ok(call(emulator, "POST", "jobs/delete", {"job_id": job_id}))


@CONTRACT
@given(tasks=SUBMIT_TASKS, cluster=_dataclass(compute.ClusterSpec, 2))
def test_submit_tasks_are_accepted_by_runs_submit(emulator, tasks, cluster):
    tasks = [dataclasses.replace(t, new_cluster=cluster) for t in tasks]
    for shape in (lambda t: t.as_dict(), _with_empty_containers):
        fail_next_run(emulator)
        body = {"run_name": "property", "tasks": [shape(t) for t in tasks]}
        ok(call(emulator, "POST", "jobs/runs/submit", body))
