"""The checks every upload runs before it writes anything: the secret scan and mwaa.validate.

They run again at deploy time (not only in `pants package`) because a bundle directory can be
edited or hand-made after the build.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from mwaa import default_constraints
from mwaa.secrets_scan import scan_paths
from mwaa.validate import ValidationError, validate_in

from deploy.errors import DeployError

# Third-party wheels a private-network plugins.zip carries are skipped when this lockfile pins
# their exact bytes (`./pants run` starts in the build root).
AIRFLOW_LOCKFILE = Path("3rdparty/python/airflow.lock")
# mwaa.validate keeps its venvs here, keyed by their resolution: a redeploy reuses them.
CACHE_HOME = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
VALIDATE_CACHE = CACHE_HOME / "dataplatform-mwaa-validate"


def check_bundle(root: Path, progress: Callable[[str], None]) -> None:
    """Refuse a bundle holding a secret or failing mwaa.validate (e.g. a DAG import error)."""
    lockfile = str(AIRFLOW_LOCKFILE) if AIRFLOW_LOCKFILE.is_file() else None
    findings = scan_paths([str(root)], lockfile)
    if findings:
        raise DeployError(
            f"secret scan refused --bundle {root}: {'; '.join(map(str, findings))}; remove the "
            "secrets from the sources (connections come from the secrets backend) and rebuild"
        )
    progress("secret scan: no secrets found")
    airflow_constraints, essential_constraints = default_constraints()
    try:
        validate_in(root, VALIDATE_CACHE, airflow_constraints, essential_constraints)
    except ValidationError as error:
        raise DeployError(f"mwaa.validate refused --bundle {root}: {error}") from None
    progress("mwaa.validate: the bundle installs and its DAGs load")
