{#- Seeds on the local target are external Delta tables (location_root): dropping one keeps its
    files, and dbt-spark's re-create re-attaches the old rows, so a second `dbt seed` would append
    a copy of the CSV. Empty the re-created table before dbt inserts the rows. -#}
{% macro spark__reset_csv_table(model, full_refresh, old_relation, agate_table) %}
    {% if old_relation %}
        {{ adapter.drop_relation(old_relation) }}
    {% endif %}
    {% set sql = create_csv_table(model, agate_table) %}
    {% if config.get('location_root') %}
        {% do run_query('delete from ' ~ this.render()) %}
    {% endif %}
    {{ return(sql) }}
{% endmacro %}
