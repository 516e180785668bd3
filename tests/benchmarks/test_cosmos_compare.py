"""The cosmos comparison on 5 models: ours and cosmos' BUILD mode render the same models as
tasks (ours adds the source tests' task and the job's launch task), cosmos' default twice as
many, and the floors rebuild ours' tasks and edges with Airflow's and the provider's operators
alone."""

import re

from conftest import run_benchmark


def test_prints_each_builder_with_its_task_count_and_the_ratios():
    out = run_benchmark("benchmarks.cosmos_compare", "--models", "5", "--repeats", "1")

    rows = dict(re.findall(r"^  (\S.*?)\s{2,}(\d+)\s+[\d.]+\s+[\d.]+\s+\d+$", out, re.MULTILINE))
    assert rows == {
        "ours, dbt's manifest.json": "7",  # 5 models + the source tests + launch
        "ours, shipped slim manifest": "7",
        "cosmos BUILD, dbt's manifest.json": "5",  # cosmos renders no source tests by default
        "cosmos BUILD, slim manifest": "5",
        "cosmos default, dbt's manifest.json": "10",  # a run and a test task per model
        "floor: EmptyOperators": "7",
        "floor: DatabricksTaskOperators": "7",
        "floor: DatabricksTaskOperators in groups": "7",
    }
    assert re.search(r"5 models: medians of the rounds, load average [\d.]+-[\d.]+", out)
    assert re.search(r"as deployed \(.+\): [\d.]+x CPU, [\d.]+x wall", out)
    assert re.search(r"floor: DatabricksTaskOperators in groups: from dbt's manifest.json "
                     r"[\d.]+x CPU", out)
