"""The GitHub Actions workflows shipped for users are valid, audited, and tests run what changed.

Every workflow passes the GitHub workflow schema, actionlint (with shellcheck on each `run:`
script) and zizmor's offline audits (template injection, permissions, unpinned actions,
credential persistence...). zizmor's online audits (impostor commits, tag/sha mismatches) need
GitHub and run where it is reachable.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

WORKFLOWS = sorted(Path(".github/workflows").glob("*.yml"))
CI = Path(".github/workflows/ci.yml")
TOOLS = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True)


def test_the_workflows_are_there():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "delivery.yml"}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_the_github_workflow_schema(workflow: Path):
    result = run(str(TOOLS / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                 str(workflow))  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_pass_actionlint_with_shellcheck():
    result = run(str(TOOLS / "actionlint"), "-no-color", "-pyflakes=",
                 f"-shellcheck={TOOLS / 'shellcheck'}", *map(str, WORKFLOWS))  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path):
    """The check above can fail: an unknown expression and a shellcheck finding are reported."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ github.nope }} $UNQUOTED\n"
    )
    result = run(str(TOOLS / "actionlint"), "-no-color", "-pyflakes=",
                 f"-shellcheck={TOOLS / 'shellcheck'}", str(broken))  # fmt: skip
    assert result.returncode == 1
    assert "nope" in result.stdout and "shellcheck" in result.stdout


def test_workflows_pass_zizmor_offline_audits():
    result = run(str(TOOLS / "zizmor"), "--offline", "--strict-collection", "--no-progress",
                 *map(str, WORKFLOWS))  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    for workflow in WORKFLOWS:  # each one was audited, not skipped
        assert f"completed {workflow}" in result.stderr


def test_every_action_is_pinned_by_full_commit_sha():
    for workflow in WORKFLOWS:
        jobs = yaml.safe_load(workflow.read_text())["jobs"].values()
        for step in (step for job in jobs for step in job.get("steps", [])):
            if "uses" in step and not step["uses"].startswith("./"):
                ref = step["uses"].partition("@")[2]
                assert re.fullmatch("[0-9a-f]{40}", ref), f"{workflow}: {step['uses']}"


def test_pull_requests_test_only_changed_targets_and_cache_pants():
    workflow = yaml.safe_load(CI.read_text())
    steps = workflow["jobs"]["affected"]["steps"]
    commands = " ".join(step.get("run", "") for step in steps)
    assert "--changed-since=" in commands
    assert "--changed-dependents=transitive" in commands
    cached = next(step for step in steps if step.get("uses", "").startswith("actions/cache"))
    assert "~/.cache/pants/named_caches" in cached["with"]["path"]
    checkout = next(step for step in steps if step.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0  # the base commit must be there to diff against
