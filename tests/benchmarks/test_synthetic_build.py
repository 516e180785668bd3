"""The synthetic dbt project the benchmarks share: what dbt parses from it, the slim manifest the
DAG bundle would ship, and the dbt-runner wheel that carries it."""

import json
import zipfile
from pathlib import Path

from benchmarks.synthetic_build import build
from benchmarks.synthetic_project import generate_project, parents_of, widest_layer

REPO = Path(__file__).resolve().parents[2]
RUNNER_WHEELS = Path("dbt/runner/unversioned")  # the unversioned wheel, built into the sandbox


def test_the_same_seed_gives_the_same_project(tmp_path):
    first = generate_project(tmp_path / "a", 120)
    second = generate_project(tmp_path / "b", 120)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)
    assert len(list((first / "models").glob("layer_*"))) == 2  # 100 models per folder


def test_each_model_reads_earlier_models_within_the_window():
    graph = parents_of(300, window=50, seed=7)
    assert graph[0] == []
    assert all(parents and max(parents) < i and min(parents) >= i - 50
               for i, parents in enumerate(graph) if i)
    assert 1 < widest_layer(300) <= 50


def test_build_parses_the_project_and_ships_a_graph_only_manifest(tmp_path):
    out = tmp_path / "out"
    build(5, out, next(RUNNER_WHEELS.glob("*.whl")))

    full = json.loads((out / "manifest.json").read_text())
    slim = json.loads((out / "slim-manifest.json").read_text())
    models = {n["name"] for n in full["nodes"].values() if n["resource_type"] == "model"}
    assert models == {f"model_{i}" for i in range(5)}
    assert full["nodes"].keys() == slim["nodes"].keys()
    model_1 = slim["nodes"]["model.synthetic.model_1"]
    assert model_1["depends_on"] == {"nodes": ["model.synthetic.model_0"]}
    assert model_1["tags"] == ["daily"] and model_1["config"]["materialized"] == "view"
    assert "raw_code" not in model_1 and "columns" not in model_1
    relationships = [n for n in slim["nodes"].values()
                     if n.get("test_metadata", {}).get("name") == "relationships"]
    assert len(relationships) == 4  # every model but the first tests its first parent

    (wheel,) = (out / "wheel").glob("dbt_runner-0.1.0+*-py3-none-any.whl")
    assert (out / "wheel" / "wheel-name.txt").read_text().strip() == wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    assert "dbt_runner/project/models/layer_00/model_4.sql" in names
    assert "dbt_runner/project/models/staging/stg_raw__orders.sql" not in names
    states = {"dbt_runner/parse_states/local.msgpack", "dbt_runner/parse_states/prod.msgpack"}
    assert states <= set(names)
