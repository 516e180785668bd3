"""The synthesized templates pass cdk-nag's AwsSolutions pack, cfn-lint and checkov."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cfnlint.api import ManualArgs, lint

from conftest import Synthesized

# Regions the stacks are meant for: cfn-lint checks each resource type exists there.
REGIONS = ["us-east-1", "eu-central-1"]


def test_cdk_nag_aws_solutions_has_no_unacknowledged_finding(synthesized: Synthesized) -> None:
    [report] = synthesized.nag_report["pluginReports"]
    assert report["pluginName"] == "AwsSolutions"
    assert report["violations"] == [], json.dumps(report["violations"], indent=1)
    assert report["conclusion"] == "success"
    for acknowledged in report["suppressedViolations"]:
        assert len(acknowledged["reason"]) > 20, acknowledged


def test_cfn_lint_reports_no_error_or_warning(template_file: Path) -> None:
    matches = lint(template_file.read_text(), config=ManualArgs(regions=REGIONS))
    problems = [str(m) for m in matches if m.rule.id[0] in "EW"]
    assert problems == []


def test_checkov_passes_with_every_skip_explained(template_file: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "checkov.main", "--file", str(template_file),
         "--framework", "cloudformation", "--output", "json", "--skip-download"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    report = json.loads(result.stdout)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == [], result.stdout[-4000:]
    assert report["summary"]["passed"] > 50
    for skipped in report["results"]["skipped_checks"]:
        assert skipped["check_result"]["suppress_comment"].strip(), skipped["check_id"]
    assert result.returncode == 0, result.stderr[-2000:]
