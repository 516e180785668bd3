"""The Pants lockfiles must lock exactly what uv compiled from each resolve's .in file.

A lockfile that drifts from its pins means CI tests something other than what ships, so
this fails with the command that fixes it.
"""

import json
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REQUIREMENTS = Path("3rdparty/python")
RESOLVES = sorted(p.stem for p in REQUIREMENTS.glob("*.in"))


def requirement_lines(path: Path) -> list[str]:
    """Requirements of a requirements file, following `-r other.in` includes."""
    result = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            result += requirement_lines(path.parent / line[3:].strip())
        elif line and not line.startswith("-"):
            result.append(line)
    return result


def pins(path: Path) -> dict[str, str]:
    """name -> version of every `name==version` line of a uv-compiled file."""
    result = {}
    for line in requirement_lines(path):
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        result[canonicalize_name(requirement.name)] = specifier.version
    return result


def lockfile(resolve: str) -> tuple[dict, dict]:
    """The Pants metadata header and the Pex lock body of a resolve's lockfile."""
    text = (REQUIREMENTS / f"{resolve}.lock").read_text()
    header, body = [], []
    for line in text.splitlines():
        (header if line.startswith("//") else body).append(line)
    metadata = "\n".join(line[2:] for line in header)
    start = metadata.index("--- BEGIN PANTS LOCKFILE METADATA: DO NOT EDIT OR REMOVE ---")
    end = metadata.index("--- END PANTS LOCKFILE METADATA ---")
    meta_json = metadata[start:end].split("\n", 1)[1]
    return json.loads(meta_json), json.loads("\n".join(body))


def fix(resolve: str) -> str:
    return f"run `3rdparty/python/relock --resolve {resolve}`"


def test_every_resolve_in_pants_toml_has_pins():
    pants_toml = Path("pants.toml").read_text()
    assert RESOLVES == ["airflow", "aws", "benchmarks", "databricks", "tools"]
    for resolve in RESOLVES:
        assert f'{resolve} = "3rdparty/python/{resolve}.lock"' in pants_toml
        assert f'{resolve} = "3rdparty/python/{resolve}.txt"' in pants_toml


@pytest.mark.parametrize("resolve", RESOLVES)
def test_uv_pins_satisfy_the_in_file(resolve):
    pinned = pins(REQUIREMENTS / f"{resolve}.txt")
    for line in requirement_lines(REQUIREMENTS / f"{resolve}.in"):
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{resolve}.txt lacks {name} of {resolve}.in: {fix(resolve)}"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{resolve}.txt pins {name}=={pinned[name]}, outside {resolve}.in's "
            f"'{requirement.specifier}': {fix(resolve)}"
        )


@pytest.mark.parametrize("resolve", RESOLVES)
def test_lockfile_was_generated_from_the_current_pins(resolve):
    metadata, _ = lockfile(resolve)
    in_file = REQUIREMENTS / f"{resolve}.in"
    wanted = sorted(str(Requirement(r)) for r in requirement_lines(in_file))
    locked_with = sorted(str(Requirement(r)) for r in metadata["generated_with_requirements"])
    assert locked_with == wanted, f"{resolve}.lock is stale against {resolve}.in: {fix(resolve)}"
    constraints = {
        canonicalize_name(Requirement(c).name): next(iter(Requirement(c).specifier)).version
        for c in metadata["requirement_constraints"]
    }
    assert constraints == pins(REQUIREMENTS / f"{resolve}.txt"), (
        f"{resolve}.lock was locked from another {resolve}.txt: {fix(resolve)}"
    )


@pytest.mark.parametrize("resolve", RESOLVES)
def test_locked_versions_are_the_uv_pins(resolve):
    _, lock = lockfile(resolve)
    pinned = pins(REQUIREMENTS / f"{resolve}.txt")
    (locked_resolve,) = lock["locked_resolves"]
    for requirement in locked_resolve["locked_requirements"]:
        name = canonicalize_name(requirement["project_name"])
        assert pinned.get(name) == requirement["version"], (
            f"{resolve}.lock has {name}=={requirement['version']} but {resolve}.txt pins "
            f"{pinned.get(name)}: {fix(resolve)}"
        )
