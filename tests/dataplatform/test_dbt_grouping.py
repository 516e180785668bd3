"""Several models per task (``dbt.models_per_task``) on a 300-model project: every model built by
exactly one task, no task holding a model and one of its ancestors (convex groups, an acyclic
task graph), each task waiting for the tasks of its models' parents, the same tasks from the
same manifest, Databricks' limits kept, and the plan command listing the groups."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from conftest import render, synthetic_manifest

from dataplatform import dbt_plan
from dataplatform.config import ConfigError, parse_environment
from dataplatform.dbt_graph import DbtGraph, DbtNode, load_graph
from dataplatform.dbt_grouping import group_models
from dataplatform.dbt_jobs import JobLimits, plan_jobs

MODELS = 300
PER_TASK = 10


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return synthetic_manifest(tmp_path_factory.mktemp("synthetic"), MODELS)


@pytest.fixture(scope="module")
def graph(manifest):
    return load_graph(manifest)


@pytest.fixture(scope="module")
def grouping(graph):
    return group_models(graph, PER_TASK)


def ancestors(graph: DbtGraph) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for node in graph.nodes:  # dependency order
        found[node.unique_id] = {a for p in node.upstream for a in {p, *found[p]}}
    return found


def selected(task: dict) -> list[str]:
    """The dbt selectors of a rendered task: its models, then the tests it runs by name."""
    parameters = task["python_wheel_task"]["parameters"]
    return parameters[parameters.index("--select") + 1 : parameters.index("--indirect-selection")]


def test_one_model_per_task_leaves_the_graph_as_it_is(graph):
    single = group_models(graph, 1)
    assert single.graph == graph
    assert single.models == {node.unique_id: (node.name,) for node in graph.nodes}


def test_every_model_is_built_by_exactly_one_task_of_at_most_n_models(graph, grouping):
    built = [model for models in grouping.models.values() for model in models]
    assert sorted(built) == sorted(node.name for node in graph.nodes)
    assert max(len(models) for models in grouping.models.values()) == PER_TASK
    assert len(grouping.graph.nodes) < len(graph.nodes) / 5  # 300 models, 38 tasks


def test_no_task_holds_a_model_and_one_of_its_ancestors(graph, grouping):
    """So no path of the model graph leaves a task and comes back into it: groups are convex."""
    above = ancestors(graph)
    unique_id = {node.name: node.unique_id for node in graph.nodes}
    for models in grouping.models.values():
        members = {unique_id[model] for model in models}
        for member in members:
            assert not above[member] & members


def test_a_task_waits_for_exactly_the_tasks_of_its_models_parents(graph, grouping):
    task_of = {model: key for key, models in grouping.models.items() for model in models}
    name = {node.unique_id: node.name for node in graph.nodes}
    expected: dict[str, set[str]] = {key: set() for key in grouping.models}
    for node in graph.nodes:
        expected[task_of[node.name]] |= {task_of[name[p]] for p in node.upstream}
    assert {t.unique_id: set(t.upstream) for t in grouping.graph.nodes} == expected


def test_tasks_come_in_dependency_order_so_their_graph_is_acyclic(grouping):
    position = {task.unique_id: index for index, task in enumerate(grouping.graph.nodes)}
    for task in grouping.graph.nodes:
        assert all(position[parent] < position[task.unique_id] for parent in task.upstream)


def test_a_task_holds_models_of_one_layer_at_one_depth(graph, grouping):
    depth: dict[str, int] = {}
    for node in graph.nodes:
        depth[node.unique_id] = 1 + max((depth[p] for p in node.upstream), default=0)
    by_name = {node.name: node for node in graph.nodes}
    for models in grouping.models.values():
        nodes = [by_name[model] for model in models]
        assert len({depth[n.unique_id] for n in nodes}) == 1
        assert len({n.folder.split("/")[1] for n in nodes}) == 1  # models/<layer>/<domain>


def test_a_rendered_task_selects_its_models_and_the_tests_they_own(manifest, graph, grouping):
    _, (job,) = render(manifest, models_per_task=PER_TASK)
    tasks = {t.name: t for t in grouping.graph.nodes}
    by_name = {node.name: node for node in graph.nodes}
    rendered = {job.task_ids[t["task_key"]].split(".", 1)[1]: t for t in job.payload["tasks"]}
    assert set(rendered) == {*tasks, "source_tests"}
    for name, task in tasks.items():
        models = grouping.models[task.unique_id]
        owned = sorted({test for model in models for test in by_name[model].tests})
        assert selected(rendered[name]) == [*models, *owned]


def test_the_same_manifest_gives_the_same_grouped_jobs(manifest, tmp_path):
    _, jobs = render(manifest, models_per_task=PER_TASK)
    data = json.loads(manifest.read_text())
    data["nodes"] = dict(reversed(list(data["nodes"].items())))
    shuffled = tmp_path / "manifest.json"
    shuffled.write_text(json.dumps(data))
    _, again = render(shuffled, models_per_task=PER_TASK)
    assert [json.dumps(j.payload, sort_keys=True) for j in again] == [
        json.dumps(j.payload, sort_keys=True) for j in jobs
    ]


def test_grouped_tasks_are_split_into_jobs_and_clusters_within_the_limits(manifest, grouping):
    limits = JobLimits(max_tasks_per_job=10, parallel_tasks_per_cluster=2)
    _, jobs = render(manifest, limits, models_per_task=PER_TASK)
    models = [model for members in grouping.models.values() for model in members]
    assert len(jobs) >= 4  # 38 tasks and source_tests, at most 10 per job
    built = []
    for job in jobs:
        assert len(job.payload["tasks"]) <= 10
        keys = {task["task_key"] for task in job.payload["tasks"]}
        for task in job.payload["tasks"]:
            assert {d["task_key"] for d in task.get("depends_on", [])} <= keys
            if task["python_wheel_task"]["parameters"][0] == "build":  # not source_tests
                built += [s for s in selected(task) if s in models]
    assert sorted(built) == sorted(models)
    for planned in plan_jobs(grouping.graph, limits).jobs:
        assert all(len(chains) <= 2 for chains in planned.clusters)


def test_models_per_task_below_one_is_refused(graph, manifest, capsys):
    with pytest.raises(ValueError, match="models_per_task must be at least 1, got 0"):
        group_models(graph, 0)
    assert dbt_plan.main(["plan", "--manifest", str(manifest), "--models-per-task", "0"]) == 1
    assert "models_per_task must be at least 1, got 0" in capsys.readouterr().err
    local = resources.files("dataplatform").joinpath("environments", "local.toml").read_text()
    with pytest.raises(ConfigError, match="dbt.models_per_task: .*greater than or equal to 1"):
        parse_environment("local", local.replace("[dbt]\n", "[dbt]\nmodels_per_task = 0\n"),
                          "local.toml")


def test_a_group_whose_task_id_a_model_already_has_is_refused():
    nodes = (
        DbtNode("model.p.a", "a", (), folder="models/staging"),
        DbtNode("model.p.b", "b", (), folder="models/staging"),
        DbtNode("model.p.c", "staging__depth_1", ("model.p.a",), folder="models/marts"),
    )
    with pytest.raises(ValueError, match="task id 'staging__depth_1' .* is taken"):
        group_models(DbtGraph(nodes), 2)


def test_plan_command_lists_each_task_and_its_models(manifest, grouping, capsys):
    args = ["plan", "--manifest", str(manifest), "--models-per-task", str(PER_TASK)]
    assert dbt_plan.main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{len(grouping.graph.nodes) + 1} tasks in 1 job(s)")  # source_tests
    assert f"{MODELS} models, at most {PER_TASK} per task" in out
    listed = [line for line in out.splitlines() if line.startswith("  task ")]
    assert len(listed) == len(grouping.graph.nodes)
    first = next(key for key in grouping.models if key.startswith("dbt_task."))
    assert f"  task {first.removeprefix('dbt_task.')}: {' '.join(grouping.models[first])}" in out
