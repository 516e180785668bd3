"""Synthetic dbt projects of any size, for tests and benchmarks of the model-level DAG.

A project of N models laid out as real ones are: ``models/<layer>/<domain>/`` folders for the
layers staging (each model reads one source table), intermediate (reads 1-3 earlier staging or
intermediate models, mostly of its domain) and marts (reads 1-3 earlier intermediate or mart
models of any domain). Every model has unique and not_null tests on ``id`` and, when it reads
another model, a relationships test to its first parent; one source column is tested too. All
nodes carry the ``daily`` tag. The same (models, seed) always gives the same project.

Two outputs of one description:
- ``write_project(dir, models)``: the dbt project's files, for a real ``dbt parse`` / run;
- ``synthetic_manifest(models)``: a manifest.json shaped like ``dbt parse --slim`` output
  (nodes, sources, parent and child maps), written in milliseconds with no dbt installed.

Standard library only, so every resolve (Airflow, the benchmarks', dbt's) can import it.

  python -m dataplatform.synthetic_dbt manifest --models 2000 --out manifest.json
  python -m dataplatform.synthetic_dbt project --models 300 --out DIR
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT = "synthetic"
DOMAINS = ("billing", "customers", "inventory", "marketing", "orders", "payments", "shipping")
# (layer, share of the models, layers a model of it may read)
LAYERS = (
    ("staging", 0.4, ()),
    ("intermediate", 0.35, ("staging", "intermediate")),
    ("marts", 0.25, ("intermediate", "marts")),
)
TAG = "daily"
SOURCE = "raw"


@dataclass(frozen=True)
class SyntheticModel:
    name: str
    layer: str
    domain: str
    parents: tuple[str, ...]  # model names; a staging model reads the source table of its name

    @property
    def folder(self) -> str:
        return f"models/{self.layer}/{self.domain}"

    @property
    def source_table(self) -> str:
        return f"{self.domain}_{self.name}"


def synthetic_models(count: int, seed: int = 7) -> list[SyntheticModel]:
    """``count`` models in dependency order (a model reads only earlier ones)."""
    if count < 1:
        raise ValueError(f"a synthetic project needs at least one model, got {count}")
    rng = random.Random(seed)
    sizes = [int(count * share) for _, share, _ in LAYERS]
    sizes[0] += count - sum(sizes)
    models: list[SyntheticModel] = []
    by_layer: dict[str, list[SyntheticModel]] = {layer: [] for layer, _, _ in LAYERS}
    for (layer, _, reads), size in zip(LAYERS, sizes, strict=True):
        for i in range(size):
            domain = DOMAINS[i % len(DOMAINS)]
            name = f"{layer[:3]}_{domain}_{i:04d}"
            candidates = [m for source in reads for m in by_layer[source]]
            if layer == "intermediate":
                own = [m for m in candidates if m.domain == domain]
                candidates = own if own and rng.random() < 0.8 else candidates
            recent = candidates[-60:]  # reads fairly recent models: deep, realistic chains
            picked = rng.sample(recent, k=min(len(recent), rng.randint(1, 3))) if recent else []
            model = SyntheticModel(name, layer, domain, tuple(sorted(m.name for m in picked)))
            models.append(model)
            by_layer[layer].append(model)
    return models


def widest_layer(count: int, seed: int = 7) -> int:
    """The most models at one depth of the graph: the peak parallelism of a run that starts
    every model as soon as its parents are done (what a benchmark's run can reach at most)."""
    depth: dict[str, int] = {}
    for model in synthetic_models(count, seed):
        depth[model.name] = 1 + max((depth[p] for p in model.parents), default=0)
    levels = list(depth.values())
    return max(levels.count(level) for level in set(levels))


def _sql(model: SyntheticModel) -> str:
    if not model.parents:
        return f"select * from {{{{ source('{SOURCE}', '{model.source_table}') }}}}\n"
    first, *others = model.parents
    # `on`, not `using (id)`: Sail cannot resolve `{first}.*` after a join with `using`.
    joins = "".join(f" join {{{{ ref('{p}') }}}} as {p} on {p}.id = {first}.id" for p in others)
    return f"select {first}.* from {{{{ ref('{first}') }}}} as {first}{joins}\n"


def write_project(root: Path, count: int, seed: int = 7, profile: str = PROJECT) -> Path:
    """The dbt project's files under ``root`` (dbt_project.yml, models, schema files)."""
    models = synthetic_models(count, seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "dbt_project.yml").write_text(
        f"name: {PROJECT}\nversion: '1.0.0'\nprofile: {profile}\nmodel-paths: ['models']\n"
        f"models:\n  {PROJECT}:\n    +tags: ['{TAG}']\n    +materialized: view\n"
    )
    sources = [m for m in models if not m.parents]
    (root / "models").mkdir(exist_ok=True)
    source_yml = [
        "version: 2",
        "sources:",
        f"  - name: {SOURCE}",
        "    tables:",
    ]
    for i, model in enumerate(sources):
        source_yml.append(f"      - name: {model.source_table}")
        if i == 0:
            source_yml += ["        columns:", "          - name: id", "            data_tests:",
                           "              - not_null"]
    (root / "models" / "_sources.yml").write_text("\n".join(source_yml) + "\n")
    docs: dict[str, list[str]] = {}
    for model in models:
        folder = root / model.folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{model.name}.sql").write_text(_sql(model))
        lines = docs.setdefault(model.folder, ["version: 2", "models:"])
        lines += [f"  - name: {model.name}", "    columns:", "      - name: id",
                  "        data_tests:", "          - unique", "          - not_null"]
        if model.parents:
            lines += ["          - relationships:", "              arguments:",
                      f"                to: ref('{model.parents[0]}')",
                      "                field: id"]
    for folder, lines in docs.items():
        (root / folder / "_models.yml").write_text("\n".join(lines) + "\n")
    return root


def synthetic_manifest(count: int, seed: int = 7) -> dict[str, Any]:
    """A manifest.json (as a dict) of the same project, shaped like dbt's slim output."""
    models = synthetic_models(count, seed)
    uid = {m.name: f"model.{PROJECT}.{m.name}" for m in models}
    nodes: dict[str, dict[str, Any]] = {}
    sources: dict[str, dict[str, Any]] = {}
    for model in models:
        if model.parents:
            depends = [uid[p] for p in model.parents]
        else:
            source_id = f"source.{PROJECT}.{SOURCE}.{model.source_table}"
            sources[source_id] = _source(source_id, model.source_table)
            depends = [source_id]
        path = f"{model.folder.removeprefix('models/')}/{model.name}.sql"
        nodes[uid[model.name]] = {
            **_common(uid[model.name], model.name, "model", f"models/{path}", path),
            "fqn": [PROJECT, model.layer, model.domain, model.name],
            "config": {"enabled": True, "materialized": "view", "tags": [TAG]},
            "tags": [TAG],
            "depends_on": {"macros": [], "nodes": depends},
            "refs": [{"name": p, "package": None, "version": None} for p in model.parents],
            "sources": [] if model.parents else [[SOURCE, model.source_table]],
            "raw_code": _sql(model),
            "language": "sql",
        }
        tests = [("unique", [uid[model.name]]), ("not_null", [uid[model.name]])]
        if model.parents:
            tests.append(("relationships", [uid[model.parents[0]], uid[model.name]]))
        for kind, parents in tests:
            name = f"{kind}_{model.name}_id"
            nodes[f"test.{PROJECT}.{name}"] = _test(name, kind, parents, model)
    first_source = next(iter(sources))
    nodes[f"test.{PROJECT}.source_not_null_raw_id"] = {
        **_test("source_not_null_raw_id", "not_null", [first_source], None),
    }
    parent_map = {n: list(node["depends_on"]["nodes"]) for n, node in nodes.items()}
    parent_map |= {s: [] for s in sources}
    child_map: dict[str, list[str]] = {n: [] for n in parent_map}
    for child, parents in parent_map.items():
        for parent in parents:
            child_map[parent].append(child)
    return {
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json",
            "project_name": PROJECT,
            "adapter_type": "spark",
        },
        "nodes": nodes,
        "sources": sources,
        "macros": {},
        "docs": {},
        "exposures": {},
        "metrics": {},
        "groups": {},
        "selectors": {},
        "disabled": {},
        "parent_map": parent_map,
        "child_map": {k: sorted(v) for k, v in child_map.items()},
        "group_map": {},
        "saved_queries": {},
        "semantic_models": {},
        "unit_tests": {},
    }


def _common(unique_id: str, name: str, kind: str, original: str, path: str) -> dict[str, Any]:
    return {
        "unique_id": unique_id,
        "name": name,
        "resource_type": kind,
        "package_name": PROJECT,
        "path": path,
        "original_file_path": original,
        "database": None,
        "schema": PROJECT,
        "alias": name,
        "checksum": {"name": "none", "checksum": ""},
    }


def _source(unique_id: str, table: str) -> dict[str, Any]:
    return {
        **_common(unique_id, table, "source", "models/_sources.yml", "models/_sources.yml"),
        "source_name": SOURCE,
        "identifier": table,
        "fqn": [PROJECT, SOURCE, table],
        "config": {"enabled": True},
        "tags": [],
    }


def _test(name: str, kind: str, parents: list[str], model: SyntheticModel | None) -> dict:
    schema_file = f"{model.folder}/_models.yml" if model else "models/_sources.yml"
    return {
        **_common(f"test.{PROJECT}.{name}", name, "test", schema_file, f"{name}.sql"),
        "fqn": [PROJECT, name],
        "config": {"enabled": True, "materialized": "test", "severity": "ERROR", "tags": []},
        "tags": [],
        "depends_on": {"macros": [f"macro.dbt.test_{kind}"], "nodes": parents},
        "attached_node": parents[-1] if model else None,
        "column_name": "id",
        "test_metadata": {"name": kind, "namespace": None, "kwargs": {"column_name": "id"}},
    }


def write_manifest(path: Path, count: int, seed: int = 7) -> Path:
    """``synthetic_manifest`` written atomically to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(synthetic_manifest(count, seed), sort_keys=True))
    os.replace(partial, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dataplatform.synthetic_dbt", description=__doc__.splitlines()[0]
    )
    parser.add_argument("what", choices=["manifest", "project"])
    parser.add_argument("--models", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True, help="manifest file or project dir")
    args = parser.parse_args(argv)
    try:
        if args.what == "manifest":
            written = write_manifest(args.out, args.models, args.seed)
        else:
            written = write_project(args.out, args.models, args.seed)
    except (ValueError, OSError) as error:
        print(f"synthetic_dbt: {error}", file=sys.stderr)
        return 1
    print(f"wrote {written} ({args.models} models)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
