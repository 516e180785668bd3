"""Package the Airflow project for Amazon MWAA and prove the package installs there.

`mwaa.build` writes the bundle (dags/, plugins.zip, requirements.txt, startup.sh, MANIFEST.json),
`mwaa.validate` resolves and loads it as an MWAA worker would, and `mwaa.secrets_scan` keeps
credentials out of it.
"""

AIRFLOW_VERSION = "3.3.1"
PYTHON_VERSION = "3.12"
# What MWAA's requirements.txt names; validation substitutes a local copy given by path.
AIRFLOW_CONSTRAINTS_URL = (
    "https://raw.githubusercontent.com/apache/airflow/"
    f"constraints-{AIRFLOW_VERSION}/constraints-{PYTHON_VERSION}.txt"
)
# MWAA's own pins, published with the images MWAA runs.
ESSENTIAL_CONSTRAINTS_URL = (
    "https://raw.githubusercontent.com/aws/amazon-mwaa-docker-images/main/"
    f"images/airflow/{AIRFLOW_VERSION}/etc/mwaa_essential_constraints.txt"
)
# MWAA unpacks plugins.zip here before installing requirements.txt.
MWAA_PLUGINS_DIR = "/usr/local/airflow/plugins"


# The pinned copies of both files in this repository (3rdparty/mwaa/, with their source URLs and
# sha256 in manifest.json): builds and validation read these, never the network.
CONSTRAINTS_DIR = f"3rdparty/mwaa/{AIRFLOW_VERSION}"


def default_constraints() -> tuple[str, str]:
    """(Airflow constraints, MWAA essential constraints): the repository's pinned copies, as
    paths relative to the build root (Pants sandboxes and `./pants run` both start there)."""
    return (f"{CONSTRAINTS_DIR}/constraints-{PYTHON_VERSION}.txt",
            f"{CONSTRAINTS_DIR}/mwaa_essential_constraints.txt")
