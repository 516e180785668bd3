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
# MWAA unpacks plugins.zip here before installing requirements.txt.
MWAA_PLUGINS_DIR = "/usr/local/airflow/plugins"
