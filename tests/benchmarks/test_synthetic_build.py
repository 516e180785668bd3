"""The synthetic dbt project the benchmarks share (`dataplatform.synthetic_dbt`): what dbt parses
from it (the `dbt:synthetic-build` PEX), the slim manifest the DAG bundle would ship, and the
dbt-runner wheel that carries it."""

import json
import zipfile
from pathlib import Path

from dataplatform.synthetic_dbt import (
    synthetic_manifest,
    synthetic_models,
    widest_layer,
    write_project,
)

from benchmarks.synthetic_pex import build_with_pex
from conftest import BUILD_PEX

RUNNER_WHEELS = Path("dbt/runner/unversioned").resolve()  # the wheel, built into the sandbox


def test_the_same_seed_gives_the_same_project(tmp_path):
    first = write_project(tmp_path / "a", 120)
    second = write_project(tmp_path / "b", 120)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)
    layers = {p.relative_to(first / "models").parts[0] for p in first.rglob("*.sql")}
    assert layers == {"staging", "intermediate", "marts"}


def test_widest_layer_is_the_most_models_at_one_depth():
    # 5 models: three staging models reading sources, an intermediate one, a mart reading it.
    assert [len(m.parents) for m in synthetic_models(5)] == [0, 0, 0, 1, 1]
    assert widest_layer(5) == 3
    staging = [m for m in synthetic_models(300) if not m.parents]
    assert widest_layer(300) >= len(staging)  # every staging model is at depth 1


def test_build_parses_the_project_into_the_graph_of_the_offline_manifest(tmp_path):
    out = tmp_path / "out"
    build_with_pex(BUILD_PEX, 5, out, RUNNER_WHEELS)

    full = json.loads((out / "manifest.json").read_text())
    slim = json.loads((out / "slim-manifest.json").read_text())
    offline = synthetic_manifest(5)

    def model_graph(manifest: dict) -> dict[str, list[str]]:
        return {uid: sorted(node["depends_on"]["nodes"]) for uid, node in manifest["nodes"].items()
                if node["resource_type"] == "model"}

    assert model_graph(full) == model_graph(offline) == model_graph(slim)
    assert full["sources"].keys() == offline["sources"].keys()
    assert full["nodes"].keys() == slim["nodes"].keys()
    marts = next(m for m in synthetic_models(5) if m.layer == "marts")
    node = slim["nodes"][f"model.synthetic.{marts.name}"]
    assert node["tags"] == ["daily"] and node["config"]["materialized"] == "view"
    assert "raw_code" not in node and "columns" not in node
    relationships = [n for n in slim["nodes"].values()
                     if n["resource_type"] == "test" and n["name"].startswith("relationships_")]
    assert len(relationships) == 2  # each model reading another tests its first parent

    (wheel,) = (out / "wheel").glob("dbt_runner-0.1.0+*-py3-none-any.whl")
    assert (out / "wheel" / "wheel-name.txt").read_text().strip() == wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    assert f"dbt_runner/project/{marts.folder}/{marts.name}.sql" in names
    assert "dbt_runner/project/models/staging/stg_raw__orders.sql" not in names
    states = {"dbt_runner/parse_states/local.msgpack", "dbt_runner/parse_states/prod.msgpack"}
    assert states <= set(names)
