"""dbt's parse state, saved at build time into the wheel so a run skips re-parsing the project.

dbt re-uses a saved parse (partial_parse.msgpack) only when the dbt version, the --target, the
--vars, the env vars dbt_project.yml reads, each project's dbt_project.yml and the profile's
connection values (host, http_path, catalog, schema) equal those it was saved with; otherwise
it parses everything again (and says why in dbt.log). Files whose contents changed are
re-parsed one by one. The host, HTTP path and SPARK_REMOTE (with its session id) differ per
workspace and per run but change nothing that parsing produces, so every run parses with fixed
stand-ins for them and then runs its command on the parsed manifest with the real connection.

Build time: `python -m dbt_runner.parse_state --out DIR` writes DIR/<target>.msgpack for every
target of the packaged profile.
"""

import argparse
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import yaml  # pants: no-infer-dep (PyYAML is a requirement of dbt-core)
from dbt.cli.main import dbtRunner, dbtRunnerResult

from dbt_runner.project import dbt_args, project_config, staged_project

PACKAGED_STATES = "parse_states"
# Connection settings that never change a parse result: replaced while parsing, so a state
# saved in one build serves every workspace, warehouse and Spark Connect session.
CONNECTION_STAND_INS = {
    "DATABRICKS_HOST": "https://parse-only.invalid",
    "DATABRICKS_HTTP_PATH": "/sql/1.0/warehouses/parse-only",
    "SPARK_REMOTE": "sc://parse-only.invalid:15002",
}


def shipped_state(target: str) -> Path | None:
    """The state saved at build time for `target`, when the wheel has one."""
    path = Path(str(resources.files(__package__).joinpath(PACKAGED_STATES, f"{target}.msgpack")))
    return path if path.is_file() else None


@contextmanager
def _stand_in_connection() -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in CONNECTION_STAND_INS}
    os.environ.update(CONNECTION_STAND_INS)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def parse(
    work: Path,
    profiles: Path,
    target: str,
    dbt_vars: str | None = None,
    state: Path | None = None,
    write_json: bool = True,
) -> dbtRunnerResult:
    """`dbt parse` of the staged project, from `state` when dbt finds it still valid.

    The result's `.result` is the parsed Manifest, ready for dbtRunner(manifest=...); without
    `write_json` no manifest.json is written (the command run on it writes one).
    """
    command = ["parse", *dbt_args(work, profiles), "--target", target, "--quiet"]
    if not write_json:
        command.append("--no-write-json")
    if dbt_vars:
        command += ["--vars", dbt_vars]
    if state:
        command += ["--partial-parse-file-path", str(state)]
    with _stand_in_connection():
        return dbtRunner().invoke(command)


def profile_targets(project: Path) -> list[str]:
    """The targets the project's own profiles.yml defines."""
    profile = project_config(project).get("profile")
    profiles = yaml.safe_load((project / "profiles.yml").read_text()) or {}
    return sorted(profiles.get(profile, {}).get("outputs", {}))


def write_states(out: Path, project: Path | None = None) -> list[Path]:
    """Parse the project once per profile target; write `out/<target>.msgpack` for each."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with staged_project(project) as work:
        for target in profile_targets(work):
            shutil.rmtree(work / "target", ignore_errors=True)
            outcome = parse(work, work, target)
            if not outcome.success:
                raise RuntimeError(f"dbt parse --target {target} failed: {outcome.exception}")
            destination = out / f"{target}.msgpack"
            shutil.copyfile(work / "target" / "partial_parse.msgpack", destination)
            written.append(destination)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dbt_runner.parse_state", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="directory for <target>.msgpack")
    parser.add_argument("--project-dir", type=Path, help="a project other than the packaged one")
    args = parser.parse_args(argv)
    try:
        written = write_states(args.out, args.project_dir)
    except (RuntimeError, FileNotFoundError) as error:
        print(f"dbt_runner.parse_state: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
