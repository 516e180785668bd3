"""Keep Airflow (imported by the lib's operators and callbacks) out of the user's home."""

import os
import tempfile

TMP_HOME_PREFIX = os.path.join(tempfile.gettempdir(), "airflow-home-")


def pytest_configure(config):
    # One throw-away home per pytest process, shared by tests/dags and tests/dataplatform.
    if not os.environ.get("AIRFLOW_HOME", "").startswith(TMP_HOME_PREFIX):
        os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="airflow-home-")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
