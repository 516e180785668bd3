"""delivery.yml promotes, never rebuilds: prod gets the release develop built and test got.

Parsed from the workflow itself: develop builds once and uploads the release under its commit;
the prod job finds that commit's develop run, downloads its release, verifies every sha256
before deploying, and has no step that builds, packages or caches anything.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

WORKFLOW = Path(".github/workflows/delivery.yml")
DEPLOY_SCRIPT = Path("infra/deploy/deploy-release")
RELEASE_TOOL = "infra/deploy/release.py"
BUILD_WORDS = ("pants", "-m pex", "pip install", "uv pip", "uv build", "-m build", "setup.py")


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def steps_using(steps: list[dict], action: str) -> list[tuple[int, dict]]:
    return [(i, s) for i, s in enumerate(steps) if s.get("uses", "").startswith(f"{action}@")]


def index_running(steps: list[dict], words: str) -> int:
    return next(i for i, s in enumerate(steps) if words in s.get("run", ""))


def test_runs_on_pushes_to_develop_and_main_only(workflow: dict):
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"push"}
    assert triggers["push"]["branches"] == ["develop", "main"]
    assert workflow["permissions"] == {}


def test_develop_builds_once_and_uploads_the_release_under_its_commit(workflow: dict):
    build = workflow["jobs"]["build"]
    assert build["if"] == "github.ref_name == 'develop'"
    steps = build["steps"]
    (upload_at, upload), = steps_using(steps, "actions/upload-artifact")
    assert upload["with"]["name"] == "release-${{ github.sha }}"
    assert upload["with"]["if-no-files-found"] == "error"
    uploaded = upload["with"]["path"].split()
    assert "dist/RELEASE.json" in uploaded
    assert {"dist/mwaa/test", "dist/mwaa/prod", "dist/dbt-runner", "dist/infra.deploy"} <= set(
        uploaded
    )
    write_at = index_running(steps, f"{RELEASE_TOOL} write")
    package_at = index_running(steps, "package")
    assert package_at < write_at < upload_at
    recorded = steps[write_at]["run"]
    for path in ("mwaa/test", "mwaa/prod", "dbt-runner", "infra.deploy"):
        assert path in recorded  # every uploaded folder has its sha256s in RELEASE.json


def test_test_deploy_takes_this_run_release_and_verifies_it(workflow: dict):
    job = workflow["jobs"]["deploy-test"]
    assert job["needs"] == "build" and job["environment"] == "test"
    steps = job["steps"]
    (download_at, download), = steps_using(steps, "actions/download-artifact")
    assert download["with"] == {"name": "release-${{ github.sha }}", "path": "dist"}
    verify_at = index_running(steps, f"{RELEASE_TOOL} verify --root dist")
    assert download_at < verify_at < index_running(steps, "infra/deploy/deploy-release test")


def test_prod_downloads_the_develop_release_by_commit_and_verifies_it(workflow: dict):
    job = workflow["jobs"]["deploy-prod"]
    assert job["if"] == "github.ref_name == 'main'"
    assert job["environment"] == "prod"  # required reviewers are set on this environment
    assert "needs" not in job  # nothing built in this run feeds it
    steps = job["steps"]
    lookup_at, lookup = next((i, s) for i, s in enumerate(steps) if s.get("id") == "tested")
    script = lookup["run"]
    assert f"{RELEASE_TOOL} tested-candidates --commit \"$GITHUB_SHA\"" in script
    for flag in ("--workflow delivery.yml", "--branch develop", "--event push",
                 '--commit "$commit"', "--status success"):  # fmt: skip
        assert flag in script
    assert 'echo "commit=$commit" >> "$GITHUB_OUTPUT"' in script
    assert 'echo "run-id=$run_id" >> "$GITHUB_OUTPUT"' in script
    (download_at, download), = steps_using(steps, "actions/download-artifact")
    assert download["with"]["name"] == "release-${{ steps.tested.outputs.commit }}"
    assert download["with"]["run-id"] == "${{ steps.tested.outputs.run-id }}"
    assert download["with"]["path"] == "dist"
    verify_at = index_running(steps, f"{RELEASE_TOOL} verify --root dist")
    assert steps[verify_at]["env"]["RELEASE_COMMIT"] == "${{ steps.tested.outputs.commit }}"
    assert '--commit "$RELEASE_COMMIT"' in steps[verify_at]["run"]
    deploy_at = index_running(steps, "infra/deploy/deploy-release prod")
    assert lookup_at < download_at < verify_at < deploy_at
    (aws_at, _), = steps_using(steps, "aws-actions/configure-aws-credentials")
    assert verify_at < aws_at  # no credentials before the release is known to be test's


def test_prod_has_no_build_package_or_cache_step(workflow: dict):
    steps = workflow["jobs"]["deploy-prod"]["steps"]
    for action in ("actions/upload-artifact", "actions/cache"):
        assert not steps_using(steps, action)
    assert all("cache" not in s.get("with", {}) for s in steps)  # setup-python's own cache
    scripts = [s.get("run", "") for s in steps] + [DEPLOY_SCRIPT.read_text()]
    for script in scripts:
        for word in BUILD_WORDS:
            assert word not in script, f"{word!r} in {script[:80]!r}"


def test_deploys_assume_the_aws_role_through_oidc_with_minimal_permissions(workflow: dict):
    jobs = workflow["jobs"]
    assert jobs["build"]["permissions"] == {"contents": "read"}
    assert jobs["deploy-test"]["permissions"] == {"contents": "read", "id-token": "write"}
    assert jobs["deploy-prod"]["permissions"] == {
        "contents": "read", "id-token": "write", "actions": "read",
    }
    for name in ("deploy-test", "deploy-prod"):
        (_, aws), = steps_using(jobs[name]["steps"], "aws-actions/configure-aws-credentials")
        assert aws["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
        assert not {"aws-access-key-id", "aws-secret-access-key"} & set(aws["with"])
        deploy = next(s for s in jobs[name]["steps"] if "deploy-release" in s.get("run", ""))
        secret = deploy["env"]["DATABRICKS_CLIENT_SECRET"]
        assert secret == "${{ secrets.DATABRICKS_CLIENT_SECRET }}"


def test_the_deploy_script_passes_shellcheck():
    shellcheck = Path(sys.executable).with_name("shellcheck")
    result = subprocess.run([str(shellcheck), str(DEPLOY_SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
