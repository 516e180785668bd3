"""A synthetic dbt project of any size, for benchmarks: the same project for every comparison.

`generate_project(root, models)` writes, with the standard library only (so every resolve can
use it):
- a seed `raw_events` (ids 1..10) that `model_0` reads;
- `models/layer_<k>/model_<i>.sql`, 100 models per folder: `model_i` selects from 1-3 models
  among the `window` before it, joined on `id` (so the graph is as deep as a real project's
  staging -> intermediate -> marts and about `window` models wide);
- per folder a `_layer_<k>__models.yml` with `unique` and `not_null` on `id` for each model
  and a `relationships` test to its first parent (a test of two models, as real projects have);
- `dbt_project.yml` naming the profile `profile`: every model a view, every node tagged
  `daily` (the tag the local environment selects).

The same seed always gives the same project. profiles.yml and macros are not written here: the
build step (`synthetic_build.py`) copies the packaged project's, so the synthetic project runs
on every target the real one does.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

MODELS_PER_FOLDER = 100
SEED_ROWS = 10


def dbt_project_yml(name: str, profile: str) -> str:
    return (
        f"name: {name}\nversion: '1.0.0'\nprofile: {profile}\n"
        "model-paths: ['models']\nseed-paths: ['seeds']\nmacro-paths: ['macros']\n"
        f"models:\n  {name}:\n    +materialized: view\n    +tags: ['daily']\n"
        f"seeds:\n  {name}:\n    +file_format: delta\n    +tags: ['daily']\n"
    )


def parents_of(models: int, window: int, seed: int) -> list[list[int]]:
    """For each model index, the sorted indexes of the models it reads (none for model 0)."""
    rng = random.Random(seed)
    parents: list[list[int]] = [[]]
    for i in range(1, models):
        earlier = range(max(0, i - window), i)
        parents.append(sorted(rng.sample(earlier, k=min(i, rng.randint(1, 3)))))
    return parents


def model_sql(parents: list[int]) -> str:
    if not parents:
        return "select id from {{ ref('raw_events') }}\n"
    joined = " join ".join(
        f"{{{{ ref('model_{p}') }}}} as m{p}" + ("" if n == 0 else " using (id)")
        for n, p in enumerate(parents)
    )
    return f"select id from {joined}\n"


def model_tests(index: int, parents: list[int]) -> list[str]:
    lines = [
        f"  - name: model_{index}",
        "    columns:",
        "      - name: id",
        "        data_tests:",
        "          - unique",
        "          - not_null",
    ]
    if parents:
        lines += [
            "          - relationships:",
            "              arguments:",
            f"                to: ref('model_{parents[0]}')",
            "                field: id",
        ]
    return lines


def generate_project(
    root: Path,
    models: int,
    *,
    name: str = "synthetic",
    profile: str = "dataplatform",
    window: int = 50,
    seed: int = 7,
) -> Path:
    """Write the project into `root` (which must not exist yet); returns `root`."""
    if models < 1:
        raise ValueError(f"a synthetic project needs at least one model, got models={models}")
    root.mkdir(parents=True)
    (root / "dbt_project.yml").write_text(dbt_project_yml(name, profile))
    (root / "seeds").mkdir()
    (root / "seeds" / "raw_events.csv").write_text(
        "id\n" + "".join(f"{i}\n" for i in range(1, SEED_ROWS + 1))
    )
    graph = parents_of(models, window, seed)
    for first in range(0, models, MODELS_PER_FOLDER):
        folder = root / "models" / f"layer_{first // MODELS_PER_FOLDER:02d}"
        folder.mkdir(parents=True)
        docs = ["version: 2", "models:"]
        for i in range(first, min(first + MODELS_PER_FOLDER, models)):
            (folder / f"model_{i}.sql").write_text(model_sql(graph[i]))
            docs += model_tests(i, graph[i])
        (folder / f"_{folder.name}__models.yml").write_text("\n".join(docs) + "\n")
    return root


def widest_layer(models: int, window: int = 50, seed: int = 7) -> int:
    """The most models that can run at once (same depth in the graph): the job's peak
    parallelism when every task starts as soon as its parents are done."""
    depth: list[int] = []
    for parents in parents_of(models, window, seed):
        depth.append(1 + max((depth[p] for p in parents), default=0))
    return max(depth.count(d) for d in set(depth))


def build_with_pex(
    build_pex: Path, models: int, out: Path, runner_wheel_dir: Path | None = None
) -> Path:
    """Run `synthetic_build.py` (the `dbt:synthetic-build` PEX, which carries dbt) to write the
    project, its manifests and optionally a runner wheel into `out`; returns `out`.

    For benchmarks in resolves without dbt: the PEX brings its own environment, so it runs on
    the base interpreter, without this process's PEX variables."""
    if not build_pex.is_file():
        raise SystemExit(f"{build_pex} is missing: run `./pants package dbt:synthetic-build`")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEX") and k != "SPARK_REMOTE"}
    command = [sys._base_executable, str(build_pex), "--models", str(models), "--out", str(out)]
    if runner_wheel_dir:
        command += ["--runner-wheel-dir", str(runner_wheel_dir)]
    print(f"building a {models}-model synthetic project (dbt parse) ...", flush=True)
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"synthetic build of {models} models failed:\n{result.stderr[-3000:]}")
    return out
