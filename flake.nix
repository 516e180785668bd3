# The development shell: `nix develop` gives every tool the README's commands need.
# Pants 2.17 runs on CPython 3.9 only, the code on 3.12; the emulator runs a Databricks
# runtime's task code on that runtime's Python (3.10 for 13.3/14.3 LTS, 3.11 for 15.4 LTS).
# Node.js 20 runs the AWS CDK's jsii runtime. Everything else comes from PyPI through Pants.
{
  description = "dataplatform development shell";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";
    # The last release with CPython 3.9 (dropped before 25.05): Pants 2.17.1's only Python.
    nixpkgs-2411.url = "github:NixOS/nixpkgs/nixos-24.11";
  };

  outputs = { self, nixpkgs, nixpkgs-2411 }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forEachSystem = f: nixpkgs.lib.genAttrs systems (system:
        f nixpkgs.legacyPackages.${system} nixpkgs-2411.legacyPackages.${system});
    in
    {
      devShells = forEachSystem (pkgs: older: {
        default = pkgs.mkShell {
          packages = [
            older.python39
            pkgs.python312
            pkgs.python311
            older.python310
            pkgs.uv
            older.nodejs_20
            pkgs.git
            pkgs.bashInteractive
            pkgs.cacert
          ];
          # The bootstrap and the local stack read these (README, Environment variables).
          PANTS_PYTHON = "${older.python39}/bin/python3.9";
          LOCAL_PYTHON = "${pkgs.python312}/bin/python3.12";
          # jsii warns on every CDK synthesis that Node 20 is past its end of life.
          JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION = "1";
        };
      });
    };
}
