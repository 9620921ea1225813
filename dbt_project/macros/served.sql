{# The forecast origin (as_of) the run client's marts serve, as a one-row query: the as_of of the
   client's latest completed non-retrospective run (ml.forecast_runs, one row per evaluation run);
   with only retrospective runs, the latest of those. Not max(as_of): a client that fixes a wrong
   future date gets its new forecast served, and a retrospective run for an earlier origin never
   replaces what is served. A warehouse from before ml.forecast_runs (no table, or no row of the
   client yet) serves max(as_of) of ml.forecast_evaluation, as earlier versions did. #}
{% macro served_as_of() -%}
    {#- ml.forecast_runs is written with ml.forecast_evaluation (the source below) in one
        transaction by the forecast_evaluation asset; see models/staging/_sources.yml. -#}
    {%- set evaluation = source('ml', 'forecast_evaluation') -%}
    {%- set runs = api.Relation.create(database=evaluation.database, schema=evaluation.schema, identifier='forecast_runs') -%}
    {%- set has_runs = execute and adapter.get_relation(database=runs.database, schema=runs.schema, identifier=runs.identifier) is not none -%}
    select as_of from (
        {%- if has_runs %}
        select cast(as_of as date) as as_of, 0 as fallback, retrospective, cast(evaluated_at as timestamp) as evaluated_at
        from {{ runs }}
        where client_id = {{ client_id() }}
        union all
        {%- endif %}
        select cast(max(as_of) as date) as as_of, 1 as fallback, true as retrospective,
            cast(null as timestamp) as evaluated_at
        from {{ evaluation }}
        where client_id = {{ client_id() }}
    ) candidates
    order by fallback, retrospective, evaluated_at desc
    limit 1
{%- endmacro %}
