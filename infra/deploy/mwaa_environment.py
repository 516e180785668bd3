"""The MWAA side of a deploy: check the environment, point it at object versions, wait for it.

UpdateEnvironment restarts the environment's components, which install requirements.txt and
plugins.zip at exactly the object versions sent; the deploy waits until MWAA reports AVAILABLE
before it touches dags/, so DAGs never run against requirements that failed to install.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from deploy.errors import DeployError
from deploy.releases import ObjectVersion, object_key

Progress = Callable[[str], None]
# MWAA's statuses while an update is still running.
IN_PROGRESS = {"UPDATING", "ROLLING_BACK", "PENDING", "CREATING_SNAPSHOT"}
# GetEnvironment field -> bundle file, for the three objects MWAA reads by version.
VERSIONED_FIELDS = {
    "Requirements": "requirements.txt",
    "Plugins": "plugins.zip",
    "StartupScript": "startup.sh",
}


class UpdateFailed(DeployError):
    """MWAA reported UPDATE_FAILED (it has put the previous configuration back)."""


class WaitTimedOut(DeployError):
    """MWAA was still updating when the wait ended."""


@dataclass(frozen=True)
class Wait:
    """How long to wait for an update and how often to ask (injectable clock for tests)."""

    timeout_seconds: float = 3600
    poll_seconds: float = 30
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)


def describe(mwaa: Any, name: str) -> dict[str, Any]:
    try:
        return mwaa.get_environment(Name=name)["Environment"]
    except (BotoCoreError, ClientError) as error:
        raise DeployError(f"MWAA environment {name}: cannot read it ({error}); "
                          "check the name and region") from None


def check_environment(mwaa: Any, name: str, bucket: str) -> None:
    """Refuse an environment that reads another bucket or is not ready for an update."""
    environment = describe(mwaa, name)
    source = environment.get("SourceBucketArn", "")
    if source.rpartition(":")[2] != bucket:
        raise DeployError(f"--mwaa-environment {name} reads {source or 'no bucket'}, not "
                          f"--bucket {bucket}: deploy to the bucket the environment reads")
    status = environment.get("Status", "AVAILABLE")
    if status not in ("AVAILABLE", "UPDATE_FAILED"):
        raise DeployError(f"MWAA environment {name} is {status}: deploy when it is AVAILABLE")


def points_at(mwaa: Any, name: str, objects: Mapping[str, ObjectVersion]) -> bool:
    """Whether the environment reads exactly these requirements/plugins/startup versions."""
    environment = describe(mwaa, name)
    return all(
        environment.get(f"{field_name}S3Path") == objects[path].key
        and environment.get(f"{field_name}S3ObjectVersion") == objects[path].version_id
        for field_name, path in VERSIONED_FIELDS.items()
    )


def update_request(name: str, prefix: str, objects: Mapping[str, ObjectVersion]) -> dict[str, str]:
    """UpdateEnvironment parameters naming the object paths and versions."""
    request = {"Name": name, "DagS3Path": object_key(prefix, "dags")}
    for field_name, path in VERSIONED_FIELDS.items():
        request[f"{field_name}S3Path"] = objects[path].key
        request[f"{field_name}S3ObjectVersion"] = objects[path].version_id
    return request


def update_and_wait(mwaa: Any, name: str, prefix: str, objects: Mapping[str, ObjectVersion],
                    wait: Wait, progress: Progress) -> None:
    """Point the environment at ``objects`` and return once MWAA reports AVAILABLE again."""
    try:
        mwaa.update_environment(**update_request(name, prefix, objects))
    except (BotoCoreError, ClientError) as error:
        raise DeployError(f"MWAA UpdateEnvironment on {name} failed: {error}") from None
    progress(f"MWAA environment {name}: update requested, waiting for AVAILABLE "
             f"(up to {wait.timeout_seconds:.0f} s)")
    start = wait.clock()
    while True:
        environment = describe(mwaa, name)
        status = environment.get("Status", "")
        elapsed = wait.clock() - start
        progress(f"MWAA environment {name}: {status} ({elapsed:.0f} s)")
        if status == "AVAILABLE":
            return
        if status == "UPDATE_FAILED":
            error = environment.get("LastUpdate", {}).get("Error", {})
            detail = f"{error.get('ErrorCode', '?')}: {error.get('ErrorMessage', 'no message')}"
            raise UpdateFailed(f"MWAA environment {name}: UPDATE_FAILED ({detail})")
        if status not in IN_PROGRESS:
            raise UpdateFailed(f"MWAA environment {name}: {status} during the update")
        if elapsed >= wait.timeout_seconds:
            raise WaitTimedOut(f"MWAA environment {name} is still {status} after {elapsed:.0f} s")
        wait.sleep(wait.poll_seconds)
