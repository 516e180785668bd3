"""The MWAA side of a deploy: check the environment reads our bucket, then point it at a release.

UpdateEnvironment restarts the environment's components, which install requirements.txt and
plugins.zip at exactly the object versions sent, so it is always the last step of a deploy.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from deploy.errors import DeployError
from deploy.releases import Release, object_key


def check_source_bucket(mwaa: Any, name: str, bucket: str) -> None:
    """Refuse to deploy to an environment that does not exist or reads another bucket."""
    try:
        environment = mwaa.get_environment(Name=name)["Environment"]
    except ClientError as error:
        code = error.response["Error"]["Code"]
        raise DeployError(
            f"--mwaa-environment {name}: cannot read it ({code}); check the name and region"
        ) from error
    source = environment.get("SourceBucketArn", "")
    if source.rpartition(":")[2] != bucket:
        raise DeployError(f"--mwaa-environment {name} reads {source or 'no bucket'}, not "
                          f"--bucket {bucket}: deploy to the bucket the environment reads")


def update_request(name: str, prefix: str, release: Release) -> dict[str, str]:
    """UpdateEnvironment parameters naming the release's object paths and versions."""
    objects = release.objects
    return {
        "Name": name,
        "DagS3Path": object_key(prefix, "dags"),
        "RequirementsS3Path": objects["requirements.txt"].key,
        "RequirementsS3ObjectVersion": objects["requirements.txt"].version_id,
        "PluginsS3Path": objects["plugins.zip"].key,
        "PluginsS3ObjectVersion": objects["plugins.zip"].version_id,
        "StartupScriptS3Path": objects["startup.sh"].key,
        "StartupScriptS3ObjectVersion": objects["startup.sh"].version_id,
    }


def update_environment(mwaa: Any, name: str, prefix: str, release: Release) -> None:
    try:
        mwaa.update_environment(**update_request(name, prefix, release))
    except ClientError as error:
        raise DeployError(
            f"S3 holds release {release.name}, but MWAA UpdateEnvironment on {name} failed "
            f"({error}); once the cause is fixed, point MWAA at it again with "
            f"`python -m deploy.mwaa rollback --to {release.name} ...`"
        ) from error
