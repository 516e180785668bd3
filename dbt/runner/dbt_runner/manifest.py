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


# The DAG renderer reads nodes and sources only; macros are ~80% of a manifest's bytes.
SLIM_DROPPED = ("macros", "docs")
# What changes on every parse (times, ids, this machine, the temporary project copy): blanked in
# the slim manifest so the same project always ships the same bytes.
VOLATILE_METADATA = ("generated_at", "invocation_id", "invocation_started_at", "run_started_at",
                     "user_id", "env")


def write_manifest(out: Path, project_dir: Path | None = None, slim: bool = False) -> Path:
    """Parse the project (target local, no connection) and write manifest.json to `out`.

    `slim` drops the parts no DAG reads (macros, docs) to keep the DAG bundle small and fast,
    and what differs between two parses of the same project, so a rebuild is byte-identical.
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
            manifest = json.loads(produced.read_text())
            for key in SLIM_DROPPED:
                manifest[key] = {}
            for key in VOLATILE_METADATA:
                manifest["metadata"].pop(key, None)
            for node in (*manifest["nodes"].values(), *manifest["sources"].values()):
                node.pop("root_path", None)  # the temporary copy dbt parsed
                node.pop("created_at", None)  # parse time
            out.write_text(json.dumps(manifest, sort_keys=True))
        else:
            shutil.copy2(produced, out)
    return out


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
        help=f"empty {', '.join(SLIM_DROPPED)} (not read by the DAG renderer)",
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
