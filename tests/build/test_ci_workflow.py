"""The GitHub Actions workflow shipped for users is valid and runs only what a change affects."""

import subprocess
import sys
from pathlib import Path

import yaml

WORKFLOW = Path(".github/workflows/ci.yml")


def test_workflow_matches_the_github_workflow_schema():
    check = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(check), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_tests_only_changed_targets_and_caches_pants():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = workflow["jobs"]["affected"]["steps"]
    commands = " ".join(step.get("run", "") for step in steps)
    assert "--changed-since=" in commands
    assert "--changed-dependents=transitive" in commands
    cached = next(step for step in steps if step.get("uses", "").startswith("actions/cache"))
    assert "~/.cache/pants/named_caches" in cached["with"]["path"]
    checkout = next(step for step in steps if step.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0  # the base commit must be there to diff against
