"""The Airflow UI in a real browser: headless Chromium (see browser.py) on the headless local
stack, doing what a user does on MWAA's UI: see the DAGs, trigger one, watch it turn green, open
its task log and follow the link to the Databricks run page. Screenshots of every step are kept
(under Pants in dist/test/<this target>/ui-screenshots/, else dist/test/ui-screenshots/)."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from ui.browser import Browser, chromium_path
from support.airflow_stack import PROJECT_DAGS, REPO, headless_stack

CHROMIUM = chromium_path()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium on this machine: install Debian's `chromium` package (.ci/run does) "
    "or set CHROMIUM to a Chromium binary",
)

DAG_ID, TASK_ID = "notebook_orders_ingest", "ingest_raw"  # one Databricks notebook run


def screenshot_dir() -> Path:
    """Pants copies what a test writes to extra-output/ into dist/test/<target>/."""
    sandbox_output = Path("extra-output")
    base = sandbox_output if sandbox_output.is_dir() else REPO / "dist" / "test"
    return (base / "ui-screenshots").resolve()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with headless_stack(tmp_path_factory.mktemp("ui-stack")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser(CHROMIUM) as chromium:
        yield chromium


@pytest.fixture(scope="module")
def shot(browser) -> Iterator:
    """`shot(name)` saves the page as <screenshot dir>/<name>.png."""
    folder = screenshot_dir()
    yield lambda name: browser.screenshot(folder / f"{name}.png")
    print(f"UI screenshots in {folder}")


@pytest.fixture(autouse=True)
def shot_on_failure(request, shot) -> Iterator[None]:
    """The page as it was when a test failed: <test name>-failed.png."""
    yield
    report = getattr(request.node, "call_report", None)
    if report is not None and report.failed:
        shot(f"{request.node.name}-failed")


def databricks_run(stack, run_id: int) -> dict:
    """`runs/get` of the emulator, as databricks-sdk or the provider reads it."""
    request = urllib.request.Request(
        f"{stack.emulator.url}/api/2.2/jobs/runs/get?run_id={run_id}",
        headers={"Authorization": f"Bearer {stack.emulator.token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def test_dag_list_shows_every_project_dag_and_no_import_error(stack, browser, shot):
    api = stack.api.base_url
    browser.goto(f"{api}/dags")
    browser.wait_for_text(f"{len(PROJECT_DAGS)} Dags")
    shown = browser.text()
    assert [dag_id for dag_id in PROJECT_DAGS if dag_id not in shown] == []
    shot("01-dag-list")

    # The home page lists import errors once it has fetched them: wait for that request.
    browser.goto(f"{api}/")
    browser.wait_until(
        "performance.getEntriesByType('resource')"
        ".some((r) => r.name.includes('/importErrors') && r.responseEnd > 0)",
        "the home page to fetch the import errors",
    )
    browser.wait_for_text("Active Dags")
    assert "Dag Import Error" not in browser.text()
    shot("02-home")


def test_a_triggered_run_turns_green_and_its_log_links_the_databricks_run(stack, browser, shot):
    api = stack.api.base_url
    browser.goto(f"{api}/dags/{DAG_ID}")
    browser.wait_for("button", "1 deadline")  # the late-run deadline every DAG declares
    browser.click("button", "Trigger")
    browser.wait_for_text(f"Trigger Dag - {DAG_ID}")
    shot("03-trigger-dialog")
    browser.click("[role=dialog] button", "Trigger")  # unpauses the DAG too (the default)
    browser.wait_for_text("Dag Run Triggered")
    run_page = browser.wait_until("location.pathname.includes('/runs/') && location.pathname",
                                  "the UI to open the new run")
    run_id = urllib.parse.unquote(run_page.split("/runs/")[1].split("/")[0])

    browser.wait_for("[data-testid=state-badge]")  # queued or running for now
    # The page refreshes itself only while the DAG (unpaused when the page loaded) has pending
    # runs, so it can miss the final state: when the run has ended, load it again, as a user
    # would.
    assert stack.api.wait_for_run(DAG_ID, run_id, timeout=480)["state"] == "success"
    browser.goto(browser.url)
    browser.wait_for("[data-testid=state-badge]", "Success")
    red, green, blue = browser.background_color("[data-testid=state-badge]", "Success")
    assert green > red and green > blue, (red, green, blue)
    shot("04-run-success")

    browser.click(f"table a[href*='/tasks/{TASK_ID}']")
    emulator_run_link = f"a[href^='{stack.emulator.url}/run/']"
    browser.wait_for(emulator_run_link)  # the provider logs the run page URL
    shot("05-task-log")
    link = browser.evaluate(f"document.querySelector({json.dumps(emulator_run_link)}).href")

    # The link names the Databricks run whose page runs/get gives (with whatever access the
    # page needs); that page shows the run's tasks, finished.
    databricks_run_id = int(re.search(r"/run/(\d+)", link)[1])
    run = databricks_run(stack, databricks_run_id)
    assert urllib.parse.urlsplit(run["run_page_url"]).path == f"/run/{databricks_run_id}"
    browser.goto(run["run_page_url"])
    browser.wait_for_text(f"run {databricks_run_id}")
    assert "State: TERMINATED SUCCESS" in browser.text()
    for task in run["tasks"]:
        browser.wait_for("tr", task["task_key"])
        assert str(task["run_id"]) in browser.text()
    shot("06-databricks-run-page")
