"""The cosmos comparison on 5 models: ours and cosmos' BUILD mode render the same models as
tasks (ours adds the source tests' task and the job's launch task), cosmos' default twice as
many."""

import re

from conftest import run_benchmark


def test_prints_each_renderer_with_its_task_count():
    out = run_benchmark("benchmarks.cosmos_compare", "--models", "5", "--repeats", "1")

    rows = dict(re.findall(r"^\s+5  (.+?)\s{2,}(\d+) ", out, re.MULTILINE))
    assert rows == {
        "ours": "7",  # 5 models + the source tests + launch
        "ours, shipped slim manifest": "7",
        "cosmos TestBehavior.BUILD": "5",  # cosmos renders no source (nor its tests) by default
        "cosmos default": "10",  # a run and a test task per model
    }
    assert "wall/ours" in out
