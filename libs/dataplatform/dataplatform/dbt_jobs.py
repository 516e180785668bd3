"""Split a dbt graph into Databricks jobs and job clusters that stay within the service's limits.

Databricks refuses a job of more than 1,000 tasks, and one cluster opens at most 150 execution
contexts (one per running task); past that a task run fails. So:

- Jobs: the nodes are laid out folder by folder (``models/staging``, ``models/marts/finance``...),
  folders in dependency order, nodes in dependency order within a folder, and cut into jobs of
  at most ``max_tasks_per_job`` tasks at folder boundaries; a folder larger than a job is cut
  inside it. Every node's parents sit in its own job or an earlier one, and a job runs after the
  jobs it reads from (its ``upstream_jobs``).
- Clusters: within a job, the tasks are covered by chains (each task follows one of its own
  parents), and two tasks of one chain never run at once. A cluster holding at most
  ``parallel_tasks_per_cluster`` chains therefore never runs more tasks at once, whatever the
  timing; a job gets the fewest clusters that hold its chains that way.

Standard library only, and deterministic: the same manifest always gives the same plan.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from dataplatform.dbt_graph import DbtGraph, topological_order

MAX_TASKS_PER_JOB = 1000  # Databricks: "You can create jobs that contain up to 1000 tasks"
MAX_EXECUTION_CONTEXTS = 150  # Databricks: "Too many execution contexts ... (Limit set to 150)"
SOURCE_TESTS_TASK_ID = "source_tests"  # the task of the tests on sources only
SOURCE_TESTS_FOLDER = "sources"


@dataclass(frozen=True)
class JobLimits:
    """How large a job and how busy a cluster may get; at most the service's limits.

    ``parallel_tasks_per_cluster`` is what one job cluster is sized to run at once (each task
    run is a dbt process on it); it can never exceed the 150 execution contexts of a cluster.
    """

    max_tasks_per_job: int = MAX_TASKS_PER_JOB
    parallel_tasks_per_cluster: int = MAX_EXECUTION_CONTEXTS

    def __post_init__(self) -> None:
        for name, value, ceiling in (
            ("max_tasks_per_job", self.max_tasks_per_job, MAX_TASKS_PER_JOB),
            ("parallel_tasks_per_cluster", self.parallel_tasks_per_cluster, MAX_EXECUTION_CONTEXTS),
        ):
            if not 1 <= value <= ceiling:
                raise ValueError(
                    f"{name} must be between 1 and Databricks' limit of {ceiling}, got {value}"
                )


@dataclass(frozen=True)
class PlannedJob:
    """One Databricks job: its tasks in dependency order (node unique_ids, and
    ``SOURCE_TESTS_TASK_ID``), the tasks of each of its clusters, the jobs it runs after."""

    tasks: tuple[str, ...]
    # Per cluster, its chains: each task of a chain depends on the one before it, so a cluster
    # never runs more tasks at once than it has chains.
    clusters: tuple[tuple[tuple[str, ...], ...], ...]
    folders: tuple[tuple[str, int], ...]  # (folder, tasks of it in this job)
    upstream_jobs: tuple[int, ...]

    def cluster_of(self) -> dict[str, int]:
        return {
            task: index
            for index, chains in enumerate(self.clusters)
            for chain in chains
            for task in chain
        }


@dataclass(frozen=True)
class JobPlan:
    jobs: tuple[PlannedJob, ...]
    limits: JobLimits


def plan_jobs(graph: DbtGraph, limits: JobLimits | None = None) -> JobPlan:
    """The jobs and clusters of ``graph`` (see the module doc); Databricks' limits by default."""
    limits = limits or JobLimits()
    upstream, folder = _tasks(graph)
    order = _folder_order(upstream, folder)
    cuts = _cut(order, limits.max_tasks_per_job) or [()]  # nothing selected: one job
    job_of = {task: index for index, tasks in enumerate(cuts) for task in tasks}
    jobs = []
    for index, tasks in enumerate(cuts):
        members = set(tasks)
        inside = {task: [p for p in upstream[task] if p in members] for task in tasks}
        chains = _chains(tasks, inside)
        clusters = _pack(chains, limits.parallel_tasks_per_cluster)
        counts: dict[str, int] = {}
        for task in tasks:
            counts[folder[task]] = counts.get(folder[task], 0) + 1
        jobs.append(
            PlannedJob(
                tasks=tasks,
                clusters=tuple(tuple(group) for group in clusters),
                folders=tuple(counts.items()),
                upstream_jobs=tuple(
                    sorted({job_of[p] for t in tasks for p in upstream[t]} - {index})
                ),
            )
        )
    return JobPlan(tuple(jobs), limits)


def _tasks(graph: DbtGraph) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """Every task's parents and folder, in the graph's dependency order; the source tests task
    comes first and is a parent of the nodes that read tested sources."""
    upstream: dict[str, tuple[str, ...]] = {}
    folder: dict[str, str] = {}
    if graph.source_tests:
        upstream[SOURCE_TESTS_TASK_ID], folder[SOURCE_TESTS_TASK_ID] = (), SOURCE_TESTS_FOLDER
    readers = set(graph.source_test_readers)
    for node in graph.nodes:
        extra = (SOURCE_TESTS_TASK_ID,) if node.unique_id in readers else ()
        upstream[node.unique_id] = (*extra, *node.upstream)
        folder[node.unique_id] = node.folder
    return upstream, folder


def _folder_order(
    upstream: Mapping[str, Sequence[str]], folder: Mapping[str, str]
) -> list[tuple[str, ...]]:
    """The tasks grouped by folder, groups in dependency order (ties by name). Folders that
    read each other (a cycle between folders) form one group."""
    edges: dict[str, set[str]] = {f: set() for f in folder.values()}
    for task, parents in upstream.items():
        edges[folder[task]].update(folder[p] for p in parents if folder[p] != folder[task])
    group_of = _strongly_connected(edges)
    group_parents: dict[str, set[str]] = {g: set() for g in group_of.values()}
    for child, parents in edges.items():
        group_parents[group_of[child]].update(group_of[p] for p in parents)
    for group, parents in group_parents.items():
        parents.discard(group)
    members: dict[str, list[str]] = {g: [] for g in group_parents}
    for task in upstream:  # dependency order within each group
        members[group_of[folder[task]]].append(task)
    return [tuple(members[g]) for g in topological_order(group_parents)]


def _strongly_connected(edges: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """Each folder's component (named by its smallest folder), by iterative Tarjan."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    component: dict[str, str] = {}
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            vertex, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(edges[successor]))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[vertex] = min(low[vertex], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[vertex])
            if low[vertex] == index[vertex]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == vertex:
                        break
                for member in members:
                    component[member] = min(members)
    return component


def _cut(groups: Sequence[tuple[str, ...]], size: int) -> list[tuple[str, ...]]:
    """Consecutive jobs of at most ``size`` tasks, cut between folder groups where a group
    fits, inside a group only when it alone is larger than a job."""
    jobs: list[tuple[str, ...]] = []
    current: list[str] = []
    for group in groups:
        if current and len(current) + len(group) > size:
            jobs.append(tuple(current))
            current = []
        remaining = list(group)
        while len(current) + len(remaining) > size:
            take = size - len(current)
            jobs.append((*current, *remaining[:take]))
            current, remaining = [], remaining[take:]
        current.extend(remaining)
    if current:
        jobs.append(tuple(current))
    return jobs


def _chains(
    tasks: Sequence[str], parents: Mapping[str, Sequence[str]]
) -> list[tuple[str, ...]]:
    """Cover ``tasks`` (in dependency order) by chains: a task extends the chain that ends with
    one of its parents (the first, by name, still free), else starts a new chain."""
    chains: list[list[str]] = []
    chain_ending_with: dict[str, int] = {}
    for task in tasks:
        extended = next((p for p in sorted(parents[task]) if p in chain_ending_with), None)
        if extended is None:
            chains.append([task])
            position = len(chains) - 1
        else:
            position = chain_ending_with.pop(extended)
            chains[position].append(task)
        chain_ending_with[task] = position
    return [tuple(chain) for chain in chains]


def _pack(chains: Sequence[tuple[str, ...]], per_cluster: int) -> list[list[tuple[str, ...]]]:
    """The fewest clusters of at most ``per_cluster`` chains each, chains dealt in turn."""
    count = max(1, math.ceil(len(chains) / per_cluster))
    clusters: list[list[tuple[str, ...]]] = [[] for _ in range(count)]
    for index, chain in enumerate(chains):
        clusters[index % count].append(chain)
    return clusters


def job_group_id(group_id: str, plan: JobPlan, index: int) -> str:
    """The task group (and job name suffix) of job ``index``: ``dbt`` alone, ``dbt_1``... split."""
    return group_id if len(plan.jobs) == 1 else f"{group_id}_{index + 1}"


def cluster_key(base_key: str, index: int) -> str:
    """Job cluster ``index`` of a job: the configured key first, then ``<key>_2``..."""
    return base_key if index == 0 else f"{base_key}_{index + 1}"


def describe(
    plan: JobPlan,
    names: Mapping[str, str],
    group_id: str = "dbt",
    base_key: str = "main",
    models: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The plan as text: per job its size, clusters, the jobs it runs after, its folders and
    its first and last task (the boundaries); with ``models`` (a task's dbt models, see
    ``dbt_grouping``) each task and its models."""
    limits = plan.limits
    total = sum(len(job.tasks) for job in plan.jobs)
    lines = [
        f"{total} tasks in {len(plan.jobs)} job(s); limits: {limits.max_tasks_per_job} tasks "
        f"per job, {limits.parallel_tasks_per_cluster} tasks at once per cluster"
    ]
    if models is not None:
        sizes = [len(members) for members in models.values()]
        lines.append(f"{sum(sizes)} models, at most {max(sizes, default=0)} per task")
    for index, job in enumerate(plan.jobs):
        after = ", ".join(job_group_id(group_id, plan, u) for u in job.upstream_jobs) or "-"
        sizes = sorted(sum(map(len, chains)) for chains in job.clusters)
        keys = [cluster_key(base_key, i) for i in range(len(job.clusters))]
        lines += [
            f"job {job_group_id(group_id, plan, index)}: {len(job.tasks)} tasks, "
            f"runs after: {after}",
            f"  {len(keys)} cluster(s) {keys[0]}{'..' + keys[-1] if len(keys) > 1 else ''}: "
            f"{sizes[0]}-{sizes[-1]} tasks each, at most {max(map(len, job.clusters))} at once",
            "  folders: " + ", ".join(f"{folder} ({count})" for folder, count in job.folders),
        ]
        if job.tasks:
            first, last = (names.get(t, t) for t in (job.tasks[0], job.tasks[-1]))
            lines.append(f"  from {first} to {last}")
        if models is not None:
            lines += [
                f"  task {names.get(t, t)}: {' '.join(models[t])}" for t in job.tasks if t in models
            ]
    return "\n".join(lines) + "\n"
