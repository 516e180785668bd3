"""A local server speaking the Databricks Jobs/Workspace REST API subset the project uses.

Runs really execute: notebooks, Python files and wheels run in child processes against a
Sail (Spark Connect) compute that writes Delta tables into a persistent local warehouse. One
local SQL warehouse runs the Statement Execution API, SEA sessions and sql_task files.
"""
