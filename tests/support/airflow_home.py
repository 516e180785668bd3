"""A throw-away AIRFLOW_HOME per pytest process, removed when the process ends.

Airflow reads its home when it is first imported, so a conftest calls `use_temporary_home()` in
`pytest_configure` (before any test imports Airflow) and `remove_temporary_home()` in
`pytest_unconfigure`. Test folders sharing one pytest process share one home.
"""

import os
import shutil
import tempfile

PREFIX = os.path.join(tempfile.gettempdir(), "airflow-home-")


def use_temporary_home() -> None:
    """Point AIRFLOW_HOME at a new temporary folder unless one of ours is set already."""
    if not os.environ.get("AIRFLOW_HOME", "").startswith(PREFIX):
        os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="airflow-home-")


def remove_temporary_home() -> None:
    home = os.environ.get("AIRFLOW_HOME", "")
    if home.startswith(PREFIX):
        shutil.rmtree(home, ignore_errors=True)
