"""The model-level DAG of a 2,000-model project within Databricks' limits: jobs of at most 1,000
tasks in dependency order, job clusters that can never run more tasks at once than allowed,
libraries on the tasks, the same jobs from the same manifest, and the plan command."""

from __future__ import annotations

import json

import pytest
from conftest import CLUSTER, WHEEL, render, synthetic_manifest

from dataplatform import dbt_plan
from dataplatform.dbt_graph import load_graph
from dataplatform.dbt_jobs import JobLimits, plan_jobs

MODELS = 2000


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return synthetic_manifest(tmp_path_factory.mktemp("synthetic"), MODELS)


@pytest.fixture(scope="module")
def rendered(manifest):
    return render(manifest)


def test_2000_models_become_jobs_of_at_most_1000_tasks_in_dependency_order(manifest, rendered):
    dag, jobs = rendered
    graph = load_graph(manifest)
    group_of = {}
    for job in jobs:
        assert len(job.payload["tasks"]) <= 1000
        for task_id in job.task_ids.values():
            name = task_id.split(".", 1)[1]
            assert name not in group_of, f"{name} is in two jobs"
            group_of[name] = job
    assert len(jobs) > 1
    assert {node.name for node in graph.nodes} <= set(group_of)
    assert len(group_of) == MODELS + 1  # and the task of the tests on sources

    for node in graph.nodes:
        job = group_of[node.name]
        upstream = dag.get_task(f"{job.group_id}.{node.name}").upstream_task_ids
        for parent in {p.split(".")[-1] for p in node.upstream}:
            parent_job = group_of[parent]
            if parent_job is job:  # a Databricks dependency inside the job
                assert f"{job.group_id}.{parent}" in upstream
            else:  # an earlier job, finished before this job is launched
                assert f"{parent_job.group_id}.{parent}" in job.upstream_task_ids


def test_every_job_task_depends_only_on_tasks_of_its_job(rendered):
    _, jobs = rendered
    for job in jobs:
        keys = {task["task_key"] for task in job.payload["tasks"]}
        for task in job.payload["tasks"]:
            assert {d["task_key"] for d in task.get("depends_on", [])} <= keys


def test_no_cluster_can_run_more_tasks_at_once_than_its_execution_contexts(manifest, rendered):
    """The plan's chains are a proof: each task of a chain depends, in the payload sent to
    Databricks, on the task before it, so a cluster runs at most as many tasks at once as it
    holds chains; that must be within 150."""
    _, jobs = rendered
    graph = load_graph(manifest)
    plan = plan_jobs(graph)
    names = {node.unique_id: node.name for node in graph.nodes}
    for job, planned in zip(jobs, plan.jobs, strict=True):
        key_of = {t.split(".", 1)[1]: k for k, t in job.task_ids.items()}
        tasks = {t["task_key"]: t for t in job.payload["tasks"]}
        for index, chains in enumerate(planned.clusters):
            assert len(chains) <= 150
            cluster = job.payload["job_clusters"][index]["job_cluster_key"]
            members = [key_of[names.get(t, t)] for chain in chains for t in chain]
            assert {k for k, t in tasks.items() if t["job_cluster_key"] == cluster} == set(members)
            for chain in chains:
                keys = [key_of[names.get(t, t)] for t in chain]
                for before, after in zip(keys, keys[1:], strict=False):
                    assert before in {d["task_key"] for d in tasks[after]["depends_on"]}


def test_fewest_clusters_for_the_configured_parallelism(manifest):
    graph = load_graph(manifest)
    for parallel in (150, 40):
        for job in plan_jobs(graph, JobLimits(parallel_tasks_per_cluster=parallel)).jobs:
            chains = sum(len(cluster) for cluster in job.clusters)
            assert len(job.clusters) == -(-chains // parallel)  # ceil: no cluster to spare
            assert max(len(cluster) for cluster in job.clusters) <= parallel


def test_libraries_are_on_tasks_never_on_the_shared_clusters(rendered):
    _, jobs = rendered
    for job in jobs:
        for cluster in job.payload["job_clusters"]:
            assert cluster["new_cluster"] == CLUSTER["new_cluster"]
        for task in job.payload["tasks"]:
            assert task["libraries"] == [{"whl": WHEEL}]


def test_the_same_manifest_gives_the_same_jobs(manifest, rendered, tmp_path):
    _, jobs = rendered
    # The same manifest with its nodes in another order: JSON object order must not matter.
    data = json.loads(manifest.read_text())
    data["nodes"] = dict(reversed(list(data["nodes"].items())))
    shuffled = tmp_path / "manifest.json"
    shuffled.write_text(json.dumps(data))
    _, again = render(shuffled)
    assert [json.dumps(j.payload, sort_keys=True) for j in again] == [
        json.dumps(j.payload, sort_keys=True) for j in jobs
    ]


def test_a_project_within_the_limits_stays_one_job_on_one_cluster(tmp_path):
    _, jobs = render(synthetic_manifest(tmp_path, 40))
    assert [job.group_id for job in jobs] == ["dbt"]
    assert [c["job_cluster_key"] for c in jobs[0].payload["job_clusters"]] == ["main"]


def test_limits_beyond_the_services_are_refused():
    with pytest.raises(ValueError, match="max_tasks_per_job must be between 1 and .* 1000"):
        JobLimits(max_tasks_per_job=1001)
    with pytest.raises(ValueError, match="parallel_tasks_per_cluster .* 150"):
        JobLimits(parallel_tasks_per_cluster=151)


def test_plan_command_prints_the_job_boundaries(manifest, capsys):
    assert dbt_plan.main(["plan", "--manifest", str(manifest), "--environment", "prod"]) == 0
    out = capsys.readouterr().out
    plan = plan_jobs(load_graph(manifest, ("daily",)))
    assert out.startswith(f"{MODELS + 1} tasks in {len(plan.jobs)} job(s)")
    for index in range(len(plan.jobs)):
        assert f"job dbt_{index + 1}: " in out
    assert "runs after: dbt_1" in out
    assert "from sta_" in out  # the first model of the first job


def test_plan_command_names_a_bad_manifest(tmp_path, capsys):
    assert dbt_plan.main(["plan", "--manifest", str(tmp_path / "missing.json")]) == 1
    assert "missing.json is not a readable dbt manifest.json" in capsys.readouterr().err
