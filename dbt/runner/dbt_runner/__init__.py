"""dbt-runner: the platform's dbt project packaged as a wheel, run by one console command.

The same wheel runs as a Databricks python_wheel_task (targets test/prod, dbt-databricks) and on
the local emulator (target local, dbt-spark over Spark Connect at SPARK_REMOTE).
"""
