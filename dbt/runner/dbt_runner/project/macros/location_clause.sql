{#- Local target (dbt-spark on Sail): every table is an external Delta table under
    DBT_WAREHOUSE_DIR (default ~/.dataplatform/warehouse), so its data outlives the Spark Connect
    server. Read when the table is created, not when the project is parsed, so a parse saved at
    build time serves every machine. dbt-databricks has its own location_clause: on Databricks
    tables stay managed by Unity Catalog. -#}
{% macro spark__location_clause() %}
  {%- set location_root = config.get('location_root')
      or env_var('DBT_WAREHOUSE_DIR', env_var('HOME', '/tmp') ~ '/.dataplatform/warehouse') -%}
  location '{{ location_root }}/{{ model['alias'] }}'
{%- endmacro -%}
