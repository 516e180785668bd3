"""Shared building blocks for the data platform's Airflow DAGs.

DAG files read one environment (``load_environment()``) and build their operators with the
helpers here, so cluster specs, paths, retries and alerting live in one place.
"""

from dataplatform.config import ConfigError, Environment, load_environment

__all__ = ["ConfigError", "Environment", "load_environment"]
