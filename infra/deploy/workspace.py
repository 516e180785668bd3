"""Deploy one environment's Databricks workspace: notebooks, the dbt-runner wheel and the jobs.

    ./pants run infra/deploy:workspace -- plan --environment test
    ./pants run infra/deploy:workspace -- apply --environment test [--git-sha SHA]

Everything comes from the environment's config (libs/dataplatform, environments/<env>.toml):
the notebook and wheel folders ([databricks]), the jobs (dataplatform.jobs) and the secret scope
dbt reads ([dbt.credentials]: its keys are checked, never written). The wheel is the one the
build made (`./pants package dbt/runner:wheel` names it in dist/dbt-runner/wheel-name.txt).
`plan` prints what `apply` would do and changes nothing; `apply` plans again, prints it and
carries it out, so running it twice changes nothing the second time. Jobs: see deploy.jobs.

Host and credentials: DATABRICKS_HOST with DATABRICKS_TOKEN, or a service principal's
DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET, or --profile (databricks-sdk's own rules).
Exit status 2 with one message for a bad input or a failed check, before anything is written.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import DatabricksError
from dataplatform.config import ConfigError, Environment, environment_names, load_environment
from dataplatform.jobs import job_definitions

from deploy.errors import DeployError
from deploy.jobs import JobChange, apply_jobs, plan_jobs, tagged_definitions, unknown_notebooks
from deploy.secret_scope import scope_problem
from deploy.workspace_files import (
    Upload,
    plan_notebooks,
    plan_wheel,
    upload_notebook,
    upload_wheel,
    volume_problem,
)

WHEEL_NAME_FILE = Path("dbt-runner") / "wheel-name.txt"  # in dist/, written by the build

Progress = Callable[[str], None]


@dataclass(frozen=True)
class WorkspacePlan:
    environment: str
    notebooks: list[Upload]
    wheel: Upload
    jobs: list[JobChange]
    problems: list[str]

    @property
    def uploads(self) -> list[Upload]:
        return [u for u in (*self.notebooks, self.wheel) if u.action != "unchanged"]

    @property
    def changes_nothing(self) -> bool:
        return not self.uploads and all(change.action == "unchanged" for change in self.jobs)

    def lines(self) -> Iterator[str]:
        yield f"notebooks ({len(self.notebooks)}):"
        yield from (f"  {upload.describe()}" for upload in self.notebooks)
        yield "dbt-runner wheel:"
        yield f"  {self.wheel.describe()}"
        yield f"jobs (tagged managed_by=dataplatform, environment={self.environment}):"
        yield from (f"  {change.describe()}" for change in self.jobs) if self.jobs else ["  none"]
        counts = {
            action: sum(change.action == action for change in self.jobs)
            for action in ("create", "reset", "delete")
        }
        yield (
            f"plan: {len(self.uploads)} files to upload, jobs: {counts['create']} to create, "
            f"{counts['reset']} to reset, {counts['delete']} to delete"
        )


def plan_workspace(
    client: WorkspaceClient,
    env: Environment,
    notebooks: list[Path],
    wheel: Path,
    git_sha: str,
    progress: Progress,
) -> WorkspacePlan:
    """Compare the repository's side with the workspace; changes nothing."""
    credentials = env.dbt.credentials
    progress(f"checking the volume of {env.databricks.wheel_dir} and the dbt secret scope")
    problems = [
        problem
        for problem in (
            volume_problem(client, env.databricks.wheel_dir),
            scope_problem(client, credentials) if credentials is not None else None,
        )
        if problem is not None
    ]
    progress(f"comparing {len(notebooks)} notebooks with {env.databricks.notebook_dir}")
    notebook_plan = plan_notebooks(client, notebooks, env.databricks.notebook_dir)
    progress(f"looking for {wheel.name} in {env.databricks.wheel_dir}")
    wheel_plan = plan_wheel(client, wheel, env.databricks.wheel_dir)
    progress("comparing the jobs with the workspace's")
    desired = tagged_definitions(job_definitions(env), git_sha)
    problems += unknown_notebooks(desired, {upload.remote for upload in notebook_plan})
    job_plan = plan_jobs(client, env.name, desired)
    return WorkspacePlan(env.name, notebook_plan, wheel_plan, job_plan, problems)


def apply_workspace(client: WorkspaceClient, plan: WorkspacePlan, progress: Progress) -> None:
    """Files first (the jobs name them), then the jobs; refused while a check fails."""
    if plan.problems:
        raise DeployError("; ".join(plan.problems))
    for upload in plan.notebooks:
        if upload.action != "unchanged":
            upload_notebook(client, upload)
            progress(f"uploaded  {upload.remote}")
    if plan.wheel.action != "unchanged":
        upload_wheel(client, plan.wheel)
        progress(f"uploaded  {plan.wheel.remote}")
    apply_jobs(client, plan.jobs, progress)


def built_wheel(dist: Path) -> Path:
    """The dbt-runner wheel of the last build (its versioned name is in wheel-name.txt)."""
    name_file = dist / WHEEL_NAME_FILE
    if not name_file.is_file():
        raise DeployError(f"{name_file} not found: build the wheel first "
                          "(./pants package dbt/runner:wheel) or pass --dist")
    wheel = dist / "dbt-runner" / name_file.read_text(encoding="utf-8").strip()
    if not wheel.is_file():
        raise DeployError(f"{name_file} names {wheel.name}, which is not in {wheel.parent}: "
                          "build again (./pants package dbt/runner:wheel)")
    return wheel


def current_git_sha() -> str:
    """GITHUB_SHA in GitHub Actions, else the checkout's HEAD."""
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        raise DeployError("cannot tell the git commit (no GITHUB_SHA, `git rev-parse HEAD` "
                          "failed): pass --git-sha") from None
    return head.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy.workspace", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["plan", "apply"])
    parser.add_argument("--environment", required=True, choices=environment_names())
    parser.add_argument("--dist", type=Path, default=Path("dist"),
                        help="the build's output folder (default: dist)")
    parser.add_argument("--notebooks", type=Path, default=Path("notebooks"),
                        help="folder of SOURCE notebooks, *.py (default: notebooks)")
    parser.add_argument("--git-sha", help="commit the jobs are tagged with (default: "
                        "GITHUB_SHA, else git rev-parse HEAD)")
    parser.add_argument("--profile", help="~/.databrickscfg profile (default: DATABRICKS_* env)")
    args = parser.parse_args(argv)

    def progress(line: str) -> None:
        print(line, flush=True)

    try:
        env = load_environment(args.environment)
        notebooks = sorted(args.notebooks.glob("*.py"))
        if not notebooks:
            raise DeployError(f"no notebooks (*.py) in {args.notebooks}: pass --notebooks")
        wheel = built_wheel(args.dist)
        git_sha = args.git_sha or current_git_sha()
        client = _client(args.profile)
        progress(f"{args.command}: environment {env.name}, workspace {client.config.host}")
        plan = plan_workspace(client, env, notebooks, wheel, git_sha, progress)
        for line in plan.lines():
            progress(line)
        if plan.problems:
            raise DeployError("; ".join(plan.problems))
        if args.command == "apply":
            apply_workspace(client, plan, progress)
            done = "nothing to change" if plan.changes_nothing else f"deployed at {git_sha}"
            progress(f"environment {env.name}: {done}")
    except (DeployError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except DatabricksError as error:
        print(f"error: the workspace refused a call: {error}", file=sys.stderr)
        return 1
    return 0


def _client(profile: str | None) -> WorkspaceClient:
    try:
        client = WorkspaceClient(profile=profile)
    except ValueError as error:  # the SDK's message says which settings it tried
        raise DeployError(f"no Databricks credentials ({error})") from None
    try:
        client.config.authenticate()  # OAuth signs in here, before the plan reads anything
    except ValueError as error:
        raise DeployError(
            f"{client.config.host} refused the sign-in ({client.config.auth_type}: {error}); "
            "check DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET (a service principal's "
            "OAuth secret), DATABRICKS_TOKEN or the profile"
        ) from None
    return client


if __name__ == "__main__":
    sys.exit(main())
