"""The workspace deploy against the emulator with databricks-sdk: plan, apply, a no-op plan,
drift and stale jobs reset or deleted, other jobs untouched, the secret scope checked first."""

from __future__ import annotations

import base64

import pytest
from conftest import NOTEBOOKS, WHEEL_NAME_FILE, dist_dir
from deploy.errors import DeployError
from deploy.jobs import GIT_SHA_TAG, plan_jobs, tagged_definitions
from deploy.workspace import main

ENVIRONMENT = "test"
JOB = "test.raw_checks"
SHA_1, SHA_2 = "1" * 40, "2" * 40
# Jobs listed before ours: more than one page of jobs/list (20), so ownership is found by
# following next_page_token, as on a busy workspace.
OTHER_TEAMS_JOBS = 21


@pytest.fixture(scope="module")
def test_workspace(workspace):
    """What the test workspace's admins set up once: the wheel volume and the dbt secret scope
    (missing its client secret), and other teams' jobs, one of them carrying our tag for prod."""
    from databricks.sdk.service.catalog import VolumeType
    from databricks.sdk.service.jobs import JobSettings
    from dataplatform import load_environment

    env = load_environment(ENVIRONMENT)
    catalog, schema, volume = env.databricks.wheel_dir.strip("/").split("/")[1:4]
    workspace.catalogs.create(catalog)
    workspace.schemas.create(schema, catalog)
    workspace.volumes.create(catalog, schema, volume, VolumeType.MANAGED)
    credentials = env.dbt.credentials
    workspace.secrets.create_scope(credentials.scope)
    for key in (credentials.host_key, credentials.http_path_key, credentials.client_id_key):
        workspace.secrets.put_secret(credentials.scope, key, string_value="set-by-an-admin")
    others = [JobSettings(name=f"team-b.report-{i}", tags={"team": "b"})
              for i in range(OTHER_TEAMS_JOBS)]
    others.append(JobSettings(name="prod.raw_checks",
                              tags={"managed_by": "dataplatform", "environment": "prod"}))
    for settings in others:
        workspace.jobs.create(**vars(settings))
    return env


@pytest.fixture
def deploy(emulator, monkeypatch, capsys, tmp_path):
    """`deploy("plan"|"apply", *args)` -> (exit status, stdout, stderr) of the CLI, signed in as
    the pipeline signs in: a service principal's OAuth M2M client id and secret."""
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no-databrickscfg"))
    monkeypatch.setenv("DATABRICKS_HOST", emulator.url)
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", emulator.client_id)
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", emulator.client_secret)

    def run(command: str, *args: str, environment: str = ENVIRONMENT) -> tuple[int, str, str]:
        capsys.readouterr()
        status = main([command, "--environment", environment, "--dist", str(dist_dir()),
                       "--notebooks", str(NOTEBOOKS), *args])
        out, err = capsys.readouterr()
        return status, out, err

    return run


def our_jobs(workspace) -> dict[str, object]:
    return {job.settings.name: job for job in workspace.jobs.list()
            if (job.settings.tags or {}).get("environment") == ENVIRONMENT}


def job_lines(out: str) -> list[str]:
    """The plan's job lines, e.g. ['reset     test.raw_checks (job 3): timeout_seconds']."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("jobs ("))
    return [line.strip() for line in lines[start + 1:] if line.startswith("  ")]


def test_the_deploy_cycle(test_workspace, workspace, deploy):
    from databricks.sdk.service.jobs import JobSettings
    from databricks.sdk.service.workspace import ExportFormat

    env = test_workspace
    wheel_name = (dist_dir() / WHEEL_NAME_FILE).read_text().strip()
    foreign_before = {job.job_id for job in workspace.jobs.list()}

    # A key missing from the secret scope fails plan and apply, and apply writes nothing.
    for command in ("plan", "apply"):
        status, out, err = deploy(command, "--git-sha", SHA_1)
        assert status == 2, out + err
        assert "dataplatform-test-dbt lacks client-secret" in err
    assert our_jobs(workspace) == {}
    with pytest.raises(Exception, match="doesn't exist"):
        workspace.workspace.get_status(f"{env.databricks.notebook_dir}/check_raw")
    credentials = env.dbt.credentials
    workspace.secrets.put_secret(credentials.scope, credentials.client_secret_key,
                                 string_value="set-by-an-admin")

    # Plan on an empty workspace: everything to create, nothing written.
    status, out, err = deploy("plan", "--git-sha", SHA_1)
    assert status == 0, err
    assert job_lines(out) == ["create    test.raw_checks"]
    assert f"create    {env.databricks.wheel_dir}/{wheel_name}" in out
    assert f"create    {env.databricks.notebook_dir}/check_raw" in out
    assert our_jobs(workspace) == {}

    status, out, err = deploy("apply", "--git-sha", SHA_1)
    assert status == 0, err
    assert "created   test.raw_checks" in out
    (job,) = our_jobs(workspace).values()
    tags = workspace.jobs.get(job.job_id).settings.tags
    assert tags["managed_by"] == "dataplatform" and tags["environment"] == "test"
    assert tags[GIT_SHA_TAG] == SHA_1
    exported = workspace.workspace.export(f"{env.databricks.notebook_dir}/check_raw",
                                          format=ExportFormat.SOURCE).content
    assert base64.b64decode(exported).decode() == (NOTEBOOKS / "check_raw.py").read_text()
    workspace.files.get_metadata(f"{env.databricks.wheel_dir}/{wheel_name}")

    # Again, from a later commit that changed no job: nothing to do, the sha tag stays.
    status, out, err = deploy("plan", "--git-sha", SHA_2)
    assert status == 0, err
    assert job_lines(out) == [f"unchanged test.raw_checks (job {job.job_id})"]
    assert "plan: 0 files to upload, jobs: 0 to create, 0 to reset, 0 to delete" in out
    status, out, err = deploy("apply", "--git-sha", SHA_2)
    assert "nothing to change" in out, out + err
    assert workspace.jobs.get(job.job_id).settings.tags[GIT_SHA_TAG] == SHA_1

    # A setting changed in the workspace: one reset back to the definition, under the new sha.
    drifted = workspace.jobs.get(job.job_id).settings.as_dict()
    drifted["timeout_seconds"] = 60
    workspace.jobs.reset(job.job_id, JobSettings.from_dict(drifted))
    status, out, err = deploy("plan", "--git-sha", SHA_2)
    assert job_lines(out) == [f"reset     test.raw_checks (job {job.job_id}): timeout_seconds"]
    status, out, err = deploy("apply", "--git-sha", SHA_2)
    assert status == 0, err
    settings = workspace.jobs.get(job.job_id).settings
    assert settings.timeout_seconds == env.timeouts.run_seconds
    assert settings.tags[GIT_SHA_TAG] == SHA_2

    # A job of ours the code no longer defines is deleted; nobody else's job is touched.
    stale = workspace.jobs.create(name="test.retired_job", tags=dict(tags)).job_id
    status, out, err = deploy("plan", "--git-sha", SHA_2)
    assert job_lines(out) == [
        f"unchanged test.raw_checks (job {job.job_id})",
        f"delete    test.retired_job (job {stale})",
    ]
    status, out, err = deploy("apply", "--git-sha", SHA_2)
    assert f"deleted   test.retired_job (job {stale})" in out, out + err
    assert set(our_jobs(workspace)) == {JOB}
    assert foreign_before <= {j.job_id for j in workspace.jobs.list()}


def test_a_workspace_without_the_volume_and_the_scope_is_refused_before_any_write(
    workspace, deploy
):
    from dataplatform import load_environment

    env = load_environment("prod")
    jobs_before = {job.job_id for job in workspace.jobs.list()}
    status, out, err = deploy("apply", "--git-sha", SHA_1, environment="prod")
    assert status == 2, out + err
    assert "volume prod.dataplatform.artifacts (of wheel_dir" in err
    assert "secret scope dataplatform-prod-dbt does not exist" in err
    assert {job.job_id for job in workspace.jobs.list()} == jobs_before
    with pytest.raises(Exception, match="doesn't exist"):
        workspace.workspace.get_status(f"{env.databricks.notebook_dir}/check_raw")


def test_a_job_whose_notebook_is_not_deployed_is_refused(test_workspace, deploy, tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "ingest_raw.py").write_text((NOTEBOOKS / "ingest_raw.py").read_text())
    status, out, err = deploy("plan", "--git-sha", SHA_1, "--notebooks", str(notebooks))
    assert status == 2, out + err
    notebook_dir = test_workspace.databricks.notebook_dir
    assert f"job test.raw_checks: task check_raw runs {notebook_dir}/check_raw, which is not" in err


def test_a_service_principal_whose_secret_is_wrong_is_told_so(deploy, monkeypatch):
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", "dose-a-rotated-secret")

    status, out, err = deploy("plan", "--git-sha", SHA_1)

    assert status == 2, out + err
    assert "refused the sign-in (oauth-m2m: invalid_client: Client authentication failed)" in err
    assert "DATABRICKS_CLIENT_ID" in err and "Traceback" not in err


@pytest.mark.parametrize("environment", ["local", "test", "prod"])
def test_every_environment_s_jobs_are_settings_databricks_sdk_knows(environment):
    from dataplatform import load_environment
    from dataplatform.jobs import job_definitions

    definitions = job_definitions(load_environment(environment))
    assert set(tagged_definitions(definitions, SHA_1)) == set(definitions)


def test_a_definition_changed_in_code_resets_even_when_a_value_is_only_removed(
    test_workspace, workspace
):
    from dataplatform.jobs import job_definitions

    definitions = job_definitions(test_workspace)
    env_name = test_workspace.name
    [created] = plan_jobs(workspace, env_name, tagged_definitions(definitions, SHA_1))
    if created.action == "create":  # run alone: deploy it first
        from deploy.jobs import apply_jobs

        apply_jobs(workspace, [created], progress=print)
    [unchanged] = plan_jobs(workspace, env_name, tagged_definitions(definitions, SHA_1))
    assert unchanged.action == "unchanged"
    # Dropping a notebook parameter leaves nothing to compare in the workspace: the definition's
    # hash tag still tells.
    settings = definitions[JOB]
    task = settings["tasks"][0]
    parameters = dict(task["notebook_task"]["base_parameters"])
    del parameters["curated_schema"]
    changed = {**settings, "tasks": [{**task, "notebook_task": {
        **task["notebook_task"], "base_parameters": parameters}}]}
    [reset] = plan_jobs(workspace, env_name, tagged_definitions({JOB: changed}, SHA_1))
    assert (reset.action, reset.differences) == ("reset", ("tags",))


def test_a_job_of_someone_else_holding_our_name_stops_the_plan(workspace):
    from dataplatform import load_environment
    from dataplatform.jobs import job_definitions

    env = load_environment("prod")  # prod.raw_checks exists, tagged for prod but not by us...
    definitions = tagged_definitions(job_definitions(env), SHA_1)
    workspace.jobs.create(name="prod.raw_checks", tags={"team": "b"})  # ...and this one is not
    with pytest.raises(DeployError, match="is named prod.raw_checks, a job this project defines"):
        plan_jobs(workspace, env.name, definitions)


def test_a_misspelt_setting_is_refused_before_any_call():
    with pytest.raises(DeployError, match=r"tasks\[0\]\.notebook_tsk is not a Jobs API setting"):
        tagged_definitions({"x": {"name": "x", "tags": {}, "tasks": [
            {"task_key": "a", "notebook_tsk": {"notebook_path": "/x"}}]}}, SHA_1)


def test_run_now_with_a_known_idempotency_token_returns_the_same_run(workspace):
    from databricks.sdk.service.compute import ClusterSpec
    from databricks.sdk.service.jobs import NotebookTask, Task

    notebook = "/Workspace/jobs-tests/nothing"
    workspace.workspace.mkdirs("/Workspace/jobs-tests")
    workspace.workspace.upload(notebook, b"# Databricks notebook source\nprint(1)\n",
                               overwrite=True)
    job_id = workspace.jobs.create(name="idempotent", tasks=[Task(
        task_key="t", notebook_task=NotebookTask(notebook_path=notebook),
        new_cluster=ClusterSpec(spark_version="16.4.x-scala2.12", num_workers=0))]).job_id
    first = workspace.jobs.run_now(job_id, idempotency_token="try-1").response.run_id
    assert workspace.jobs.run_now(job_id, idempotency_token="try-1").response.run_id == first
    assert workspace.jobs.run_now(job_id, idempotency_token="try-2").response.run_id != first


def test_jobs_list_pages_through_every_job_and_filters_names_case_insensitively(workspace):
    for i in range(3):
        workspace.jobs.create(name=f"Paged-{i}")
    names = [job.settings.name for job in workspace.jobs.list(limit=2)]
    assert {"Paged-0", "Paged-1", "Paged-2"} <= set(names)  # pages of 2 followed to the end
    assert [job.settings.name for job in workspace.jobs.list(name="paged-1")] == ["Paged-1"]
    with pytest.raises(Exception, match="limit must be between 1 and 100"):
        list(workspace.jobs.list(limit=101))


def test_tasks_the_workspace_returns_in_another_order_are_no_change(workspace):
    from databricks.sdk.service.jobs import JobSettings
    from deploy.jobs import apply_jobs

    cluster = {"spark_version": "16.4.x-scala2.12", "num_workers": 0}
    tasks = [{"task_key": key, "notebook_task": {"notebook_path": f"/Workspace/x/{key}"},
              "new_cluster": cluster} for key in ("b", "a")]
    tags = {"managed_by": "dataplatform", "environment": "ordering"}
    desired = tagged_definitions({"ordering.two": {"name": "ordering.two", "tags": tags,
                                                   "tasks": tasks}}, SHA_1)
    apply_jobs(workspace, plan_jobs(workspace, "ordering", desired), progress=print)
    (job,) = workspace.jobs.list(name="ordering.two")
    settings = workspace.jobs.get(job.job_id).settings.as_dict()
    settings["tasks"].reverse()
    workspace.jobs.reset(job.job_id, JobSettings.from_dict(settings))
    [change] = plan_jobs(workspace, "ordering", desired)
    assert change.action == "unchanged", change.differences
    settings["tasks"][0]["notebook_task"]["notebook_path"] = "/Workspace/x/elsewhere"
    workspace.jobs.reset(job.job_id, JobSettings.from_dict(settings))
    [change] = plan_jobs(workspace, "ordering", desired)
    assert change.differences == ("tasks[0].notebook_task.notebook_path",)
