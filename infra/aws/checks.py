"""cdk-nag's AwsSolutions pack on every stack of the app.

cdk-nag 3 runs as a CDK validation plugin: `app.synth()` fails with a report when a finding is
not acknowledged, so a template with an unexplained finding is never written. The stack
acknowledges each finding beside the construct it concerns, with its reason.
"""

from __future__ import annotations

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks


def apply(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
