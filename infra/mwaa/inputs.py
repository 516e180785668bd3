"""Reading the builder's and validator's inputs, failing with the input's name (exit 2)."""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

EXIT_BAD_INPUT = 2


class InputError(Exception):
    """A missing or malformed input; the message names it and the fix."""


def run_cli(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> None:
    """Run ``main`` and exit with its code, or with 2 and a one-line message on ``InputError``."""
    try:
        code = main(argv)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        code = EXIT_BAD_INPUT
    sys.exit(code)


def existing_file(path: str | Path, what: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} {str(path)!r} is not a file")
    return p


def existing_dir(path: str | Path, what: str) -> Path:
    p = Path(path)
    if not p.is_dir():
        raise InputError(f"{what} {str(path)!r} is not a directory")
    return p


def read_text(path_or_url: str, what: str) -> str:
    """Read a local file or an http(s) URL (constraints are published on GitHub)."""
    if path_or_url.startswith(("https://", "http://")):
        try:
            with urllib.request.urlopen(path_or_url, timeout=60) as response:
                return response.read().decode("utf-8")
        except OSError as error:
            raise InputError(
                f"{what} {path_or_url!r} cannot be fetched ({error}); pass a local file instead"
            ) from error
    return existing_file(path_or_url, what).read_text(encoding="utf-8")


def read_pins(path_or_url: str, what: str) -> dict[NormalizedName, Requirement]:
    return parse_pins(read_text(path_or_url, what), f"{what} {path_or_url}")


def parse_pins(text: str, source: str) -> dict[NormalizedName, Requirement]:
    """Parse a requirements/constraints file of ``name==version`` lines, keyed by canonical name.

    Option lines (``-r``, ``--index-url``...) are rejected: a pins file that includes others
    cannot be compared line by line against MWAA's constraints.
    """
    pins: dict[NormalizedName, Requirement] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}:{number}"
        if line.startswith("-"):
            raise InputError(f"{where}: option line {line!r} is not supported; list pins only")
        try:
            req = Requirement(line)
        except InvalidRequirement as error:
            raise InputError(f"{where}: {error}") from error
        if pinned_version(req) is None:
            raise InputError(f"{where}: {line!r} is not pinned with '=='")
        pins[canonicalize_name(req.name)] = req
    return pins


def pinned_version(req: Requirement) -> str | None:
    """The version of an exact ``==`` pin, else None."""
    specs = list(req.specifier)
    if len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version:
        return specs[0].version
    return None
