"""The cosmos comparison on 5 models: ours and cosmos' BUILD mode render the same models as
tasks (ours adds the job's launch task), cosmos' default twice as many."""

import re

from conftest import run_benchmark


def test_prints_each_renderer_with_its_task_count():
    out = run_benchmark("benchmarks.cosmos_compare", "--models", "5", "--repeats", "1")

    rows = dict(re.findall(r"^\s+5  (.+?)\s{2,}(\d+) ", out, re.MULTILINE))
    assert rows == {
        "ours": "7",  # 5 models + the seed + launch
        "ours, shipped slim manifest": "7",
        "cosmos TestBehavior.BUILD": "6",
        "cosmos default": "11",  # a run and a test task per model, the seed alone
    }
    assert "wall/ours" in out
