"""flake.nix parses, and its development shell has the tools the README's commands need.

Here Nix cannot reach nixpkgs, so the flake's `outputs` function is evaluated against a stub
package set that has exactly the attributes the flake may use: the shell's packages, which
nixpkgs release each comes from and the variables the bootstrap reads are checked; that the
attributes exist in the real releases is checked where nixpkgs is reachable (`nix develop`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

FLAKE = Path("flake.nix").resolve()
SYSTEMS = ["aarch64-darwin", "aarch64-linux", "x86_64-darwin", "x86_64-linux"]
# A stub of one nixpkgs release: each package is its store path; mkShell returns its arguments.
STUB = """
let
  flake = import %(flake)s;
  systems = builtins.fromJSON ''%(systems)s'';
  release = name: let
    pkg = attr: { outPath = "/nix/store/${name}-${attr}"; };
    attrs = [ "python39" "python310" "python311" "python312" "uv" "nodejs_20" "git"
              "bashInteractive" "cacert" ];
    packages = builtins.listToAttrs (map (a: { name = a; value = pkg a; }) attrs);
  in {
    lib.genAttrs = names: f: builtins.listToAttrs (map (n: { name = n; value = f n; }) names);
    legacyPackages = builtins.listToAttrs (map (s: {
      name = s; value = packages // { mkShell = args: args; };
    }) systems);
  };
  inputs = { self = null; nixpkgs = release "new"; nixpkgs-2411 = release "old"; };
  shells = (flake.outputs inputs).devShells;
in {
  inherit (flake) description;
  inputs = builtins.mapAttrs (name: input: input.url) flake.inputs;
  systems = builtins.attrNames shells;
  shell = shells.x86_64-linux.default // {
    packages = map toString shells.x86_64-linux.default.packages;
  };
}
"""


@pytest.fixture(scope="module")
def nix_instantiate() -> str:
    found = shutil.which("nix-instantiate")
    assert found, "nix-instantiate not found: install Debian's nix-bin (.ci/run does)"
    return found


def test_flake_parses(nix_instantiate: str):
    result = subprocess.run([nix_instantiate, "--parse", str(FLAKE)], capture_output=True,
                            text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_parse_check_catches_a_syntax_error(nix_instantiate: str, tmp_path: Path):
    broken = tmp_path / "flake.nix"
    broken.write_text(FLAKE.read_text().replace("outputs = {", "outputs = {{", 1))
    result = subprocess.run([nix_instantiate, "--parse", str(broken)], capture_output=True,
                            text=True)  # fmt: skip
    assert result.returncode != 0 and "syntax error" in result.stderr


def test_dev_shell_has_the_pythons_uv_and_node(nix_instantiate: str, tmp_path: Path):
    stub = tmp_path / "stub.nix"
    stub.write_text(STUB % {"flake": FLAKE, "systems": json.dumps(SYSTEMS)})
    result = subprocess.run([nix_instantiate, "--eval", "--strict", "--json", str(stub)],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    flake = json.loads(result.stdout)
    assert flake["systems"] == SYSTEMS
    assert flake["inputs"] == {
        "nixpkgs": "github:NixOS/nixpkgs/nixos-25.11",
        "nixpkgs-2411": "github:NixOS/nixpkgs/nixos-24.11",  # last release with CPython 3.9
    }
    shell = flake["shell"]
    assert {"/nix/store/old-python39", "/nix/store/new-python312", "/nix/store/new-uv",
            "/nix/store/old-nodejs_20", "/nix/store/new-git"} <= set(shell["packages"])  # fmt: skip
    # The bootstrap finds Pants' Python through PANTS_PYTHON, the local stack its own.
    assert shell["PANTS_PYTHON"] == "/nix/store/old-python39/bin/python3.9"
    assert shell["LOCAL_PYTHON"] == "/nix/store/new-python312/bin/python3.12"
