{#- Shipped by dbt-runner and added to every project it runs (dbt_runner/project.py).
    A seed that is an external Delta table (a table with a location, as on the local Sail
    target): dropping it keeps its files, and dbt-spark's re-create re-attaches the old rows, so
    a second `dbt seed` would append a copy of the CSV. Empty the re-created Delta table before
    dbt inserts the rows; on a managed table the delete finds nothing. -#}
{% macro spark__reset_csv_table(model, full_refresh, old_relation, agate_table) %}
    {% if old_relation %}
        {{ adapter.drop_relation(old_relation) }}
    {% endif %}
    {% set sql = create_csv_table(model, agate_table) %}
    {% if config.get('file_format') == 'delta' %}
        {% do run_query('delete from ' ~ this.render()) %}
    {% endif %}
    {{ return(sql) }}
{% endmacro %}
