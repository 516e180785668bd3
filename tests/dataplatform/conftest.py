"""Keep Airflow (imported by the lib's operators and callbacks) out of the user's home."""

import os
import tempfile


def pytest_configure(config):
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="airflow-home-")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
