"""startup.sh: what MWAA sources on every component start, and a sandbox to see what it exports.

The script only names the environment: connections and tokens come from MWAA's secrets
backend, never from the bundle.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "DATAPLATFORM_ENV"
ENVIRONMENT_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
# MWAA sets this to the component being started.
COMPONENTS = ("scheduler", "worker", "triggerer", "webserver", "dag-processor")


def render(environment: str) -> str:
    """The startup.sh text for ``environment`` (a plain lowercase name, so it needs no quoting)."""
    if not ENVIRONMENT_NAME.fullmatch(environment):
        raise ValueError(
            f"environment {environment!r} must match {ENVIRONMENT_NAME.pattern} (e.g. test, prod)"
        )
    return (
        "#!/bin/sh\n"
        f"# MWAA startup script of the {environment} environment (written by mwaa.build).\n"
        "# MWAA sources it on every component start, before installing requirements.txt.\n"
        "# It holds no secrets: connections come from the environment's secrets backend.\n"
        f'export {ENV_VAR}="{environment}"\n'
        f'echo "dataplatform: {ENV_VAR}=${{{ENV_VAR}}} on ${{MWAA_AIRFLOW_COMPONENT:-unknown}}"\n'
    )


@dataclass(frozen=True)
class StartupResult:
    exported: dict[str, str]
    output: str


def run_sandboxed(
    script: Path, component: str, extra_env: Mapping[str, str] | None = None
) -> StartupResult:
    """Source ``script`` in bash with a bare environment, as MWAA does for ``component``.

    Returns the variables it set or changed and everything it printed.
    """
    env = {"PATH": "/usr/bin:/bin", "HOME": str(script.parent), "MWAA_AIRFLOW_COMPONENT": component}
    env |= extra_env or {}
    before, _ = _source_and_dump(env, None)
    after, output = _source_and_dump(env, script.resolve())
    exported = {k: v for k, v in after.items() if before.get(k) != v and k != "_"}
    return StartupResult(exported, output)


def _source_and_dump(env: Mapping[str, str], script: Path | None) -> tuple[dict[str, str], str]:
    """Environment after sourcing ``script`` (None: nothing), and what the script printed."""
    result = subprocess.run(
        ["bash", "-c", 'if [ -n "$1" ]; then . "$1" >&2; fi; env -0', "startup", str(script or "")],
        env=dict(env),
        capture_output=True,
        check=True,
    )
    pairs = (item.decode("utf-8", "replace").partition("=") for item in result.stdout.split(b"\0"))
    return {k: v for k, _, v in pairs if k}, result.stderr.decode("utf-8", "replace")
