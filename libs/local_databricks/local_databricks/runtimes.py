"""The Databricks Runtime versions the emulator knows, and the Python each one runs.

Python versions are those of each release's "System environment" in Databricks' release notes.
A `spark_version` not in this table is refused at submit, as the service refuses a runtime it
does not offer. Variants (photon, ML, scala 2.12/2.13) share their release's Python.
"""

from __future__ import annotations

from dataclasses import dataclass

from local_databricks.errors import invalid


@dataclass(frozen=True)
class Runtime:
    key: str  # the spark_version string clusters name, e.g. "16.4.x-scala2.12"
    name: str  # what clusters/spark-versions shows
    spark: str
    python: str  # "major.minor" of the cluster's Python


def _release(version: str, spark: str, python: str, scalas: tuple[str, ...]) -> list[Runtime]:
    runtimes = []
    for scala in scalas:
        for variant, label in (("", ""), ("photon-", " Photon"), ("cpu-ml-", " ML")):
            key = f"{version}.x-{variant}scala{scala}"
            name = f"{version} LTS{label} (includes Apache Spark {spark}, Scala {scala})"
            runtimes.append(Runtime(key, name, spark, python))
    return runtimes


RUNTIMES: dict[str, Runtime] = {
    runtime.key: runtime
    for runtime in [
        *_release("13.3", "3.4.1", "3.10", ("2.12",)),
        *_release("14.3", "3.5.0", "3.10", ("2.12",)),
        *_release("15.4", "3.5.0", "3.11", ("2.12",)),
        *_release("16.4", "3.5.2", "3.12", ("2.12", "2.13")),
        *_release("17.3", "4.0.0", "3.12", ("2.13",)),
    ]
}


def runtime_for(spark_version: str, where: str = "spark_version") -> Runtime:
    """The runtime of a cluster spec's spark_version, or the service's refusal."""
    try:
        return RUNTIMES[spark_version]
    except KeyError:
        raise invalid(
            f"Invalid spark version {spark_version!r} in '{where}'. Use one of the versions "
            "GET /api/2.1/clusters/spark-versions lists, e.g. '16.4.x-scala2.12'."
        ) from None


def spark_versions() -> dict[str, list[dict[str, str]]]:
    """The body of GET clusters/spark-versions."""
    return {"versions": [{"key": r.key, "name": r.name} for r in RUNTIMES.values()]}
