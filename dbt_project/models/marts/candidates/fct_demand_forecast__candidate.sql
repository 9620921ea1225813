-- Candidate of fct_demand_forecast (built and tested before it replaces the served rows): for
-- the run's client, item and future day, the champion model's forecast from the served forecast
-- origin (served_as_of: the latest completed non-retrospective run's as_of), with its quantiles
-- and MLflow run id.
-- Columns are cast to the consumer contract's types (_marts.yml, CHANGELOG.md).
-- Every model's table joins the union; the global model's and the ensembles' only once they
-- exist (a warehouse from before them, or a run that selected only some assets, has none yet).
{%- set optional_tables = ['global_forecast', 'ensemble_forecast'] %}
{%- set selects = [] %}
{%- for t in ['chronos_forecast', 'baseline_forecast'] + optional_tables %}
    {%- set src = source('ml', t) %}
    {%- if t not in optional_tables or not execute
        or adapter.get_relation(database=src.database, schema=src.schema, identifier=src.identifier) is not none %}
        {%- do selects.append("select * from " ~ src ~ " where client_id = " ~ client_id() ~ " and kind = 'forecast'") %}
    {%- endif %}
{%- endfor %}
with all_forecasts as (
    {{ selects | join('\n    union all\n    ') }}
),
latest as (
    {{ served_as_of() }}
),
champions as (
    select e.item_id, e.model
    from {{ source('ml', 'forecast_evaluation') }} e
    join latest l on e.as_of = l.as_of
    where e.client_id = {{ client_id() }} and e.level = 'item' and e.is_champion
)
select
    cast(f.client_id as varchar) as client_id,
    cast(f.item_id as varchar) as item_id,
    cast(f.date as date) as forecast_date,
    cast(f.step as bigint) as horizon_step,
    cast(f.as_of as date) as as_of,
    cast(f.model as varchar) as model,
    cast(f.model_id as varchar) as model_id,
    cast(f.point as double precision) as forecast_units,
    {%- for q in [10, 20, 30, 40, 50, 60, 70, 80, 90] %}
    cast(f.q{{ q }} as double precision) as q{{ q }},
    {%- endfor %}
    cast(f.mlflow_run_id as varchar) as mlflow_run_id
from all_forecasts f
join latest l on f.as_of = l.as_of
join champions c on c.item_id = f.item_id and c.model = f.model
