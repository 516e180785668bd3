"""`python -m dbt_runner ...` is the same as the `dbt-runner` console script."""

from dbt_runner.cli import entry_point

entry_point()
