"""Synthesized stacks of each environment, with cdk-nag's validation report."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from aws.app import build_stack
from aws.settings import Mwaa, environment_names, load_mwaa
from aws.stack import DataPlatformStack

# jsii runs on Node.js 20 here, which prints an end-of-life banner on every start otherwise.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")


@dataclass(frozen=True)
class Synthesized:
    environment: str
    settings: Mwaa
    stack: DataPlatformStack
    template: Template
    nag_report: dict[str, Any]

    def logical_id(self, construct: Any) -> str:
        return self.stack.get_logical_id(construct.node.default_child)


@pytest.fixture(scope="session", params=environment_names())
def synthesized(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Synthesized:
    environment = request.param
    outdir = tmp_path_factory.mktemp(f"cdk-{environment}")
    app, stack = build_stack(environment, str(outdir))
    app.synth()
    report = json.loads((outdir / "validation-report.json").read_text())
    return Synthesized(
        environment, load_mwaa(environment), stack, Template.from_stack(stack), report
    )


@pytest.fixture(scope="session")
def template_file(synthesized: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp(f"template-{synthesized.environment}") / "template.json"
    path.write_text(json.dumps(synthesized.template.to_json()))
    return path
