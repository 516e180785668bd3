"""Cluster libraries install for real, per cluster, on the Python of the cluster's runtime."""

from __future__ import annotations

import io
import zipfile

import requests
from conftest import ensure_volume, new_cluster, run_notebook_task, upload_notebook, wait_done
from databricks.sdk.service import compute, jobs

STRICT_WHEEL = "/Volumes/main/default/libs/py312_only-1.0-py3-none-any.whl"


def _wheel(name: str, requires_python: str) -> bytes:
    """A pure-Python wheel whose metadata says which Pythons it supports."""
    dist = f"{name}-1.0.dist-info"
    files = {
        f"{name}/__init__.py": (
            "import sys\n"
            "def main():\n"
            "    print('running on', '.'.join(map(str, sys.version_info[:2])))\n"
        ),
        f"{dist}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
            f"Requires-Python: {requires_python}\n"
        ),
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
        f"{dist}/entry_points.txt": f"[console_scripts]\n{name} = {name}:main\n",
    }
    record = "".join(f"{path},,\n" for path in [*files, f"{dist}/RECORD"])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, text in {**files, f"{dist}/RECORD": record}.items():
            archive.writestr(path, text)
    return buffer.getvalue()


def _wheel_run(client, spark_version: str) -> jobs.Run:
    ensure_volume(client, "main", "default", "libs")
    client.files.upload(STRICT_WHEEL, io.BytesIO(_wheel("py312_only", "==3.12.*")), overwrite=True)
    run_id = client.jobs.submit(
        run_name=f"strict-wheel-{spark_version}",
        tasks=[
            jobs.SubmitTask(
                task_key="wheel",
                python_wheel_task=jobs.PythonWheelTask(
                    package_name="py312_only", entry_point="py312_only"
                ),
                libraries=[compute.Library(whl=STRICT_WHEEL)],
                new_cluster=new_cluster(spark_version),
            )
        ],
    ).response.run_id
    return wait_done(client, run_id, timeout=280)


def test_wheel_whose_requires_python_excludes_the_cluster_python_fails_the_run(client):
    run = _wheel_run(client, "15.4.x-scala2.12")  # Python 3.11
    assert run.state.life_cycle_state == jobs.RunLifeCycleState.INTERNAL_ERROR
    assert run.tasks[0].state.life_cycle_state == jobs.RunLifeCycleState.INTERNAL_ERROR
    assert run.state.result_state == jobs.RunResultState.FAILED
    message = run.tasks[0].state.state_message
    assert message.startswith(
        f'Library installation failed for library due to user error for whl: "{STRICT_WHEEL}"'
    )
    assert "3.12" in message and "DRIVER_LIBRARY_INSTALLATION_FAILURE" in message


def test_the_same_wheel_runs_on_a_runtime_with_its_python(client):
    run = _wheel_run(client, "16.4.x-scala2.12")  # Python 3.12
    output = client.jobs.get_run_output(run.tasks[0].run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS, output.error_trace
    assert "running on 3.12" in output.logs


def _humanize_run(client, library: compute.Library) -> tuple[str, int]:
    """The notebook's result when it imports humanize, installed by `library` only; run id."""
    run = run_notebook_task(
        client,
        "uses_humanize",
        "import humanize\ndbutils.notebook.exit(humanize.intcomma(1234567))\n",
        libraries=[library],
        new_cluster=new_cluster("16.4.x-scala2.12"),
    )
    output = client.jobs.get_run_output(run.tasks[0].run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS, output.error_trace
    return output.notebook_output.result, run.run_id


def test_pypi_library_is_installed_and_importable_in_a_notebook(client, emulator):
    library = compute.Library(pypi=compute.PythonPyPiLibrary("humanize==4.12.3"))
    result, run_id = _humanize_run(client, library)
    assert result == "1,234,567"
    usage = requests.get(
        f"{emulator['url']}/emulator/usage",
        params={"run_id": run_id},
        headers={"Authorization": f"Bearer {emulator['token']}"},
        timeout=10,
    ).json()
    [cluster] = usage["clusters"]
    assert cluster["spark_version"] == "16.4.x-scala2.12" and cluster["python"] == "3.12"
    assert cluster["libraries_installed"] == 1


def test_requirements_file_library_is_installed(client):
    path = f"{ensure_volume(client, 'main', 'default', 'libs')}/requirements.txt"
    client.files.upload(path, io.BytesIO(b"humanize==4.12.3\n"), overwrite=True)
    assert _humanize_run(client, compute.Library(requirements=path))[0] == "1,234,567"


def test_missing_pypi_package_fails_the_run_naming_it(client):
    upload_notebook(client, "/Users/dev/noop", "dbutils.notebook.exit('ran')\n")
    missing = "local-databricks-no-such-package==0.0.1"
    run_id = client.jobs.submit(
        run_name="missing-pypi",
        tasks=[
            jobs.SubmitTask(
                task_key="nb",
                notebook_task=jobs.NotebookTask("/Users/dev/noop"),
                libraries=[compute.Library(pypi=compute.PythonPyPiLibrary(missing))],
                new_cluster=new_cluster("16.4.x-scala2.12"),
            ),
            jobs.SubmitTask(
                task_key="after",
                depends_on=[jobs.TaskDependency("nb")],
                notebook_task=jobs.NotebookTask("/Users/dev/noop"),
            ),
        ],
    ).response.run_id
    run = wait_done(client, run_id, timeout=280)
    assert run.state.life_cycle_state == jobs.RunLifeCycleState.INTERNAL_ERROR
    tasks = {task.task_key: task for task in run.tasks}
    message = tasks["nb"].state.state_message
    assert message.startswith(
        "Library installation failed for library due to user error for pypi {\n"
        f'  package: "{missing}"\n}}'
    )
    assert tasks["after"].state.result_state == jobs.RunResultState.UPSTREAM_FAILED
