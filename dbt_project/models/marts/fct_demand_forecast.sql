-- The forecast consumers act on: for each client, item and future day, the champion model's
-- forecast from the latest forecast origin (as_of), with its quantiles and MLflow run id.
-- Columns are cast to the consumer contract's types (_marts.yml, CHANGELOG.md).
with all_forecasts as (
    select * from {{ source('ml', 'chronos_forecast') }} where client_id = {{ client_id() }} and kind = 'forecast'
    union all
    select * from {{ source('ml', 'baseline_forecast') }} where client_id = {{ client_id() }} and kind = 'forecast'
),
latest as (
    select max(as_of) as as_of from {{ source('ml', 'forecast_evaluation') }} where client_id = {{ client_id() }}
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
