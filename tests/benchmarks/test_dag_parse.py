"""The dag-processor parse benchmark on 5 models: Airflow's own parse of the model-level DAG
file with the synthetic manifest, its budget and memory."""

import re

from conftest import run_benchmark


def test_parses_the_model_level_dag_with_the_synthetic_manifest():
    out = run_benchmark("benchmarks.dag_parse", "--models", "5", "--repeats", "1")

    assert re.search(r"shipped slim manifest [\d.]+ MB", out)
    assert re.search(r"parse: import the file \+ serialize its DAG \(7 tasks\)", out)
    assert "of dagbag_import_timeout 30 s" in out
    assert re.search(r"RSS before the parse / peak\s+\d+ MB / \d+ MB", out)
    assert re.search(r"load average [\d.]+-[\d.]+ on \d+ cores", out)
