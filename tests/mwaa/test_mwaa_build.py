"""mwaa.build: byte-identical bundles, MWAA-shaped requirements.txt, clear input errors."""

from __future__ import annotations

import json
import stat
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

from conftest import make_wheel

BuildBundle = Callable[..., subprocess.CompletedProcess[str]]


CONSTRAINTS_URL = (
    "https://raw.githubusercontent.com/apache/airflow/constraints-3.3.1/constraints-3.12.txt"
)


def tree_bytes(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_rebuild_is_byte_identical(build_bundle: BuildBundle, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    assert build_bundle(first).returncode == 0
    assert build_bundle(second).returncode == 0
    assert tree_bytes(first) == tree_bytes(second)
    with zipfile.ZipFile(first / "plugins.zip") as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == ["mwaa_probe-0.1.0-py3-none-any.whl"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_rebuild_replaces_previous_bundle_whole(build_bundle: BuildBundle, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    assert build_bundle(out).returncode == 0
    (out / "dags" / "stale.py").write_text("left from an older build\n")
    assert build_bundle(out).returncode == 0
    assert not (out / "dags" / "stale.py").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_bundle_layout_and_manifest(build_bundle: BuildBundle, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    result = build_bundle(out)
    assert result.returncode == 0, result.stderr
    files = tree_bytes(out)
    assert sorted(files) == [
        "MANIFEST.json",
        "dags/dbt/manifest.json",
        "dags/probe/probe_dag.py",
        "plugins.zip",
        "requirements.txt",
        "startup.sh",
    ]
    assert files["startup.sh"][1] == 0o755
    assert files["requirements.txt"][1] == 0o644
    manifest = json.loads(files["MANIFEST.json"][0])
    assert manifest["environment"] == "test"
    listed = {entry["path"]: entry for entry in manifest["files"]}
    assert sorted(listed) == sorted(set(files) - {"MANIFEST.json"})
    assert listed["requirements.txt"]["size"] == len(files["requirements.txt"][0])
    assert [m["path"] for m in listed["plugins.zip"]["members"]] == [
        "mwaa_probe-0.1.0-py3-none-any.whl"
    ]


def test_requirements_name_only_what_mwaa_does_not_fix(
    build_bundle: BuildBundle, tmp_path: Path, constraints_dir: Path, airflow_pins: Path
) -> None:
    out = tmp_path / "bundle"
    assert build_bundle(out).returncode == 0
    lines = (out / "requirements.txt").read_text().splitlines()
    assert lines[0] == f'--constraint "{CONSTRAINTS_URL}"'
    assert lines[1] == "--find-links /usr/local/airflow/plugins"
    # The project wheel by its path in plugins.zip: no index is ever asked for a same-named one.
    assert lines[-1] == (
        "mwaa-probe @ file:///usr/local/airflow/plugins/mwaa_probe-0.1.0-py3-none-any.whl"
    )
    pins = {line.split("==")[0]: line.split("==")[1] for line in lines[2:-1]}
    resolve = {
        line.split("==")[0]: line.split("==")[1]
        for line in airflow_pins.read_text().splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    }
    essential = (constraints_dir / "mwaa_essential_constraints.txt").read_text().lower()
    # Every line is the resolve's own pin (or the project wheel); nothing MWAA forces is repeated.
    assert all(resolve[name] == version for name, version in pins.items())
    assert not [name for name in pins if f"\n{name}==" in f"\n{essential}"]
    # Direct requirements stay even when Airflow's constraints pin them: MWAA's image does not
    # hold the Databricks provider, so pip must be told to install it.
    assert pins["apache-airflow-providers-databricks"] == "7.18.1"
    # Transitive pins Airflow's constraints fix at the same version are left to the constraint.
    assert "requests" in resolve and "requests" not in pins
    # Not in Airflow's constraints: pinned explicitly.
    assert pins["databricks-sdk"] == resolve["databricks-sdk"]


def test_pin_that_mwaa_overrides_stops_the_build(
    build_bundle: BuildBundle, tmp_path: Path, airflow_pins: Path
) -> None:
    pins = tmp_path / "pins.txt"
    pins.write_text(airflow_pins.read_text() + "flask==2.2.5\n")
    result = build_bundle(tmp_path / "bundle", pins=pins)
    assert result.returncode == 2
    assert "flask==2.2.5" in result.stderr and "Flask==3.1.3" in result.stderr
    assert not (tmp_path / "bundle").exists()


def test_missing_inputs_exit_2_naming_them(build_bundle: BuildBundle, tmp_path: Path) -> None:
    missing_wheel = build_bundle(tmp_path / "a", "--wheel", str(tmp_path / "nope.whl"))
    assert missing_wheel.returncode == 2
    assert "--wheel" in missing_wheel.stderr and "nope.whl" in missing_wheel.stderr
    missing_dags = build_bundle(tmp_path / "b", dags=tmp_path / "no-dags")
    assert missing_dags.returncode == 2 and "--dags-dir" in missing_dags.stderr
    bad_extra = build_bundle(tmp_path / "c", "--extra-file", "x.json=../outside.json")
    assert bad_extra.returncode == 2 and "--extra-file" in bad_extra.stderr
    bad_env = build_bundle(tmp_path / "d", "--environment", "test; rm -rf /")
    assert bad_env.returncode == 2 and "--environment" in bad_env.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_private_network_bundle_ships_every_wheel_and_installs_without_index(
    build_bundle: BuildBundle, tmp_path: Path, constraints_dir: Path
) -> None:
    wheels = tmp_path / "locked"
    wheels.mkdir()
    make_wheel(wheels, "mwaa_extra", "1.0", {"mwaa_extra/__init__.py": ""})
    make_wheel(wheels, "mwaa_dependency", "2.0", {"mwaa_dependency/__init__.py": ""})
    pins = tmp_path / "pins.txt"
    pins.write_text("mwaa-extra==1.0\n    # via -r airflow.in\nmwaa-dependency==2.0\n"
                    "    # via mwaa-extra\n")
    out = tmp_path / "bundle"
    result = build_bundle(out, "--private-network", "--locked-wheels", str(wheels), pins=pins)
    assert result.returncode == 0, result.stderr
    assert (out / "requirements.txt").read_text().splitlines() == [
        "--no-index",
        "--find-links /usr/local/airflow/plugins",
        "--constraint /usr/local/airflow/plugins/constraints-3.12.txt",
        "mwaa-dependency==2.0",
        "mwaa-extra==1.0",
        "mwaa-probe @ file:///usr/local/airflow/plugins/mwaa_probe-0.1.0-py3-none-any.whl",
    ]
    with zipfile.ZipFile(out / "plugins.zip") as archive:
        assert sorted(archive.namelist()) == [
            "constraints-3.12.txt",
            "mwaa_dependency-2.0-py3-none-any.whl",
            "mwaa_extra-1.0-py3-none-any.whl",
            "mwaa_probe-0.1.0-py3-none-any.whl",
        ]
        shipped = archive.read("constraints-3.12.txt")
    assert shipped == (constraints_dir / "constraints-3.12.txt").read_bytes()
    assert json.loads((out / "MANIFEST.json").read_text())["private_network"] is True


def test_private_network_build_refuses_a_pin_without_its_wheel(
    build_bundle: BuildBundle, tmp_path: Path
) -> None:
    wheels = tmp_path / "locked"
    wheels.mkdir()
    make_wheel(wheels, "mwaa_extra", "0.9", {"mwaa_extra/__init__.py": ""})
    pins = tmp_path / "pins.txt"
    pins.write_text("mwaa-extra==1.0\n    # via -r airflow.in\n")
    result = build_bundle(tmp_path / "bundle", "--private-network", "--locked-wheels",
                          str(wheels), pins=pins)
    assert result.returncode == 2
    assert f"--locked-wheels {wheels} lacks wheels for mwaa-extra==1.0" in result.stderr
    assert not (tmp_path / "bundle").exists()
