"""Write the dbt manifest at build time: `python -m dbt_runner.manifest --out PATH`.

`dbt parse` with the local target reads only the project files and never opens a warehouse
connection, so this runs in a sandboxed build with no Spark server and no credentials.
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

from dbt.cli.main import dbtRunner

from dbt_runner.project import dbt_args, staged_project


# The DAG renderer reads nodes and sources only: macros are ~80% of a small manifest's bytes,
# and the parent and child maps (the nodes' depends_on, twice over) 30% of a large one's.
SLIM_DROPPED = ("macros", "docs", "parent_map", "child_map")
# What the slim manifest keeps of each node and source: exactly what the renderer reads (its
# graph, tags and folder; the node's unique_id is its key). Every byte is parsed by the
# dag-processor on each parse of the model-level DAG: SQL, columns, configs, fqn and paths made
# 5/6 of a big project's nodes, and JSON decoding is a tenth of the DAG's construction.
SLIM_NODE_KEYS = ("resource_type", "name", "original_file_path", "tags", "depends_on", "config")
SLIM_CONFIG_KEYS = ("materialized",)
# What changes on every parse (times, ids, this machine, the temporary project copy): blanked in
# the slim manifest so the same project always ships the same bytes.
VOLATILE_METADATA = ("generated_at", "invocation_id", "invocation_started_at", "run_started_at",
                     "user_id", "env")


def write_manifest(out: Path, project_dir: Path | None = None, slim: bool = False) -> Path:
    """Parse the project (target local, no connection) and write manifest.json to `out`.

    `slim` keeps only what DAGs read (the nodes' graph, no macros, docs, SQL or columns) to keep
    the DAG bundle small and its parse fast, and nothing that differs between two parses of the
    same project, so a rebuild is byte-identical.
    """
    with staged_project(project_dir) as work:
        outcome = dbtRunner().invoke(
            ["parse", *dbt_args(work), "--target", "local", "--no-partial-parse", "--quiet"]
        )
        if not outcome.success:
            raise RuntimeError(f"dbt parse of {work} failed: {outcome.exception}")
        out.parent.mkdir(parents=True, exist_ok=True)
        produced = work / "target" / "manifest.json"
        if slim:
            out.write_text(slim_manifest(json.loads(produced.read_text())))
        else:
            shutil.copy2(produced, out)
    return out


def slim_manifest(manifest: dict) -> str:
    """The manifest as the DAG bundle ships it: without what no DAG reads and what differs
    between two parses of the same project."""
    manifest = {**manifest, **{key: {} for key in SLIM_DROPPED}}
    manifest["metadata"] = {
        k: v for k, v in manifest["metadata"].items() if k not in VOLATILE_METADATA
    }
    for section in ("nodes", "sources"):
        manifest[section] = {uid: _slim_node(node) for uid, node in manifest[section].items()}
    return json.dumps(manifest, sort_keys=True)


def _slim_node(node: dict) -> dict:
    """The node's graph keys (never root_path, the temporary copy dbt parsed, or created_at)."""
    slim = {key: node[key] for key in SLIM_NODE_KEYS if key in node}
    if "depends_on" in slim:
        slim["depends_on"] = {"nodes": slim["depends_on"].get("nodes", [])}
    if "config" in slim:
        slim["config"] = {k: slim["config"][k] for k in SLIM_CONFIG_KEYS if k in slim["config"]}
    return slim


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dbt_runner.manifest", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="where to write manifest.json")
    parser.add_argument(
        "--project-dir", type=Path, help="parse this dbt project instead of the packaged one"
    )
    parser.add_argument(
        "--slim",
        action="store_true",
        help=f"empty {', '.join(SLIM_DROPPED)} and keep only the nodes' graph (what DAGs read)",
    )
    args = parser.parse_args(argv)
    try:
        path = write_manifest(args.out, args.project_dir, args.slim)
    except (RuntimeError, FileNotFoundError) as error:
        print(f"dbt_runner.manifest: {error}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
