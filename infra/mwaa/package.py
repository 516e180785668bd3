"""What `pants package infra/mwaa:<env>` runs: mwaa.build, then the gates over the new bundle.

    python -m mwaa.package --locked LOCKFILE BUILD_OPTIONS... --locked-wheels DIR

The secret scan (every file, and every file inside plugins.zip and its wheels except the
third-party wheels --locked pins by hash) and mwaa.validate (resolved from plugins.zip and
--locked-wheels only, the index unreachable) run on the staged bundle; OUT_DIR is written only
when both pass. Exit 1 names the file and the finding, or the DAG that fails to import.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from mwaa import build
from mwaa.inputs import run_cli
from mwaa.secrets_scan import scan_paths
from mwaa.validate import ValidationError, validate_in


class Refused(Exception):
    """A gate refused the bundle; the message says which and why."""


def gates(args: argparse.Namespace, lockfile: str) -> Callable[[Path], None]:
    """The check mwaa.build runs on the staged bundle before moving it into place."""

    def check(staging: Path) -> None:
        findings = scan_paths([str(staging)], lockfile)
        if findings:
            where = args.out.absolute()
            lines = "\n".join(f"  {str(f).replace(str(staging), str(where))}" for f in findings)
            raise Refused(f"secret scan: {len(findings)} secret(s) in the bundle:\n{lines}\n"
                          "connections and tokens belong in the secrets backend, not in files")
        print("secret scan: no secrets found", flush=True)
        try:
            validate_in(staging, None, args.airflow_constraints, args.essential_constraints,
                        Path(args.locked_wheels))
        except ValidationError as error:
            raise Refused(f"mwaa.validate: {error}") from None

    return check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mwaa.package", description=__doc__)
    parser.add_argument("--locked", required=True,
                        help="the resolve's lockfile (its wheels are skipped by the secret scan)")
    own, rest = parser.parse_known_args(argv)
    args = build.parse_args(rest)
    if not args.locked_wheels:
        parser.error("--locked-wheels DIR is required: validation runs with the index unreachable")
    try:
        return build.build(args, gates(args, own.locked))
    except Refused as error:
        print(f"REFUSED {args.out}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    run_cli(main)
