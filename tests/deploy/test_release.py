"""infra/deploy/release.py on a real git repository: prod may take only test's release, as built.

The CLI runs as the delivery workflow runs it (`python infra/deploy/release.py ...` from the
checkout, standard library only); a develop commit is merged into main the way a pull request
merges it, and a release file is tampered with after `write`.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from deploy.release import RELEASE_NAME

RELEASE_TOOL = REPO_ROOT / "infra" / "deploy" / "release.py"
RELEASED = ["mwaa/test", "dbt-runner", "infra.deploy"]
GIT_IDENTITY = ["-c", "user.name=Dev", "-c", "user.email=dev@example.org"]


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *GIT_IDENTITY, *args],
                            capture_output=True, text=True, check=True)  # fmt: skip
    return result.stdout.strip()


def commit_file(repo: Path, name: str, text: str) -> str:
    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", f"change {name}")
    return git(repo, "rev-parse", "HEAD")


def release_cli(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RELEASE_TOOL), *args],
                          cwd=repo, capture_output=True, text=True)  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout with `main` and `develop` one commit ahead, and develop's dist/ built."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit_file(repo, "README.md", "dataplatform\n")
    git(repo, "checkout", "-q", "-b", "develop")
    commit_file(repo, "dag.py", "print('v2')\n")
    (repo / ".gitignore").write_text("dist/\n")
    dist = repo / "dist"
    for name, data in {
        "mwaa/test/dags/dag.py": b"print('v2')\n",
        "mwaa/test/plugins.zip": b"PK\x05\x06" + bytes(18),
        "mwaa/test/MANIFEST.json": b"{}\n",
        "dbt-runner/dbt_runner-0.1.0+abc-py3-none-any.whl": b"wheel bytes",
        "infra.deploy/mwaa-deploy.pex": b"pex bytes",
        "mwaa/test-private/plugins.zip": b"not released",
    }.items():
        (dist / name).parent.mkdir(parents=True, exist_ok=True)
        (dist / name).write_bytes(data)
    return repo


def develop_head(repo: Path) -> str:
    return git(repo, "rev-parse", "develop")


def write(repo: Path) -> str:
    commit = develop_head(repo)
    result = release_cli(repo, "write", "--root", "dist", "--commit", commit, *RELEASED)
    assert result.returncode == 0, result.stderr
    return commit


def test_write_records_every_released_file_with_its_sha256_and_the_commit(repo: Path):
    commit = write(repo)
    document = json.loads((repo / "dist" / RELEASE_NAME).read_text())
    assert document["commit"] == commit
    assert document["tree"] == git(repo, "rev-parse", f"{commit}^{{tree}}")
    recorded = {entry["path"]: entry["sha256"] for entry in document["files"]}
    on_disk = {
        path.relative_to(repo / "dist").as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for top in RELEASED
        for path in (repo / "dist" / top).rglob("*")
        if path.is_file()
    }
    assert recorded == on_disk and len(recorded) == 5  # test-private was not asked for


def test_verify_accepts_the_release_as_written(repo: Path):
    commit = write(repo)
    result = release_cli(repo, "verify", "--root", "dist", "--commit", commit)
    assert result.returncode == 0, result.stderr
    assert "5 files match their sha256" in result.stdout


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        (lambda d: (d / "mwaa/test/dags/dag.py").write_text("print('evil')\n"),
         "mwaa/test/dags/dag.py: sha256"),
        (lambda d: (d / "dbt-runner/dbt_runner-0.1.0+abc-py3-none-any.whl").unlink(),
         "dbt-runner/dbt_runner-0.1.0+abc-py3-none-any.whl: missing"),
        (lambda d: (d / "mwaa/test/dags/extra.py").write_text("x = 1\n"),
         f"mwaa/test/dags/extra.py: not in {RELEASE_NAME}"),
    ],
    ids=["changed", "missing", "extra"],
)  # fmt: skip
def test_verify_refuses_a_tampered_release_naming_the_file(repo: Path, tamper, named: str):
    commit = write(repo)
    tamper(repo / "dist")
    result = release_cli(repo, "verify", "--root", "dist", "--commit", commit)
    assert result.returncode == 2
    assert named in result.stderr
    assert "download the artifact of commit" in result.stderr


def test_verify_refuses_the_release_of_another_commit(repo: Path):
    built = write(repo)
    later = commit_file(repo, "dag.py", "print('v3')\n")
    result = release_cli(repo, "verify", "--root", "dist", "--commit", later)
    assert result.returncode == 2
    assert f"release of commit {built}, not {later}" in result.stderr


def test_verify_refuses_a_release_without_manifest(repo: Path):
    result = release_cli(repo, "verify", "--root", "dist", "--commit", develop_head(repo))
    assert result.returncode == 2
    assert f"no {RELEASE_NAME} in dist" in result.stderr


def test_write_refuses_a_path_that_was_not_built(repo: Path):
    result = release_cli(
        repo, "write", "--root", "dist", "--commit", develop_head(repo), "mwaa/prod"
    )
    assert result.returncode == 2
    assert "mwaa/prod not found under dist: package them first" in result.stderr
    assert not (repo / "dist" / RELEASE_NAME).exists()


def test_a_merge_of_develop_into_main_promotes_develop_release(repo: Path):
    """main's merge commit has develop's tree: its candidate is develop's head, which verifies."""
    tested = write(repo)
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge develop", "develop")
    merge = git(repo, "rev-parse", "HEAD")
    result = release_cli(repo, "tested-candidates", "--commit", merge)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [merge, tested]  # not main's old head: another tree
    verified = release_cli(repo, "verify", "--root", "dist", "--commit", tested)
    assert verified.returncode == 0, verified.stderr


def test_a_change_made_on_main_only_has_no_tested_release(repo: Path):
    """A merge that brings anything develop did not test matches no develop commit's tree."""
    tested = write(repo)
    git(repo, "checkout", "-q", "main")
    commit_file(repo, "hotfix.py", "print('untested')\n")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge develop", "develop")
    merge = git(repo, "rev-parse", "HEAD")
    candidates = release_cli(repo, "tested-candidates", "--commit", merge).stdout.split()
    assert candidates == [merge]
    result = release_cli(repo, "verify", "--root", "dist", "--commit", tested)
    assert result.returncode == 2
    assert "deploy from the checkout of the commit the release was built from" in result.stderr
