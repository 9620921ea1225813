{# The client partition as a SQL literal. Dagster validates the key against
   ^[a-z0-9][a-z0-9_]{0,62}$ before passing it; this re-checks so dbt run by hand is safe too. #}
{% macro client_id() -%}
    {%- set key = var('client_id') -%}
    {%- if execute and not modules.re.match('^[a-z0-9][a-z0-9_]{0,62}$', key) -%}
        {{ exceptions.raise_compiler_error("invalid client_id var: " ~ key) }}
    {%- endif -%}
    '{{ key }}'
{%- endmacro %}

{# Portable daily date series between two date expressions (DuckDB and Postgres). #}
{% macro date_series(start_expr, end_expr) -%}
    select cast(gs as date) as date
    from generate_series(cast({{ start_expr }} as timestamp), cast({{ end_expr }} as timestamp), interval '1 day') as t(gs)
{%- endmacro %}
