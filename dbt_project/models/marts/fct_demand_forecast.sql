-- The forecast consumers act on: for each client, item and future day, the champion model's
-- forecast from the latest forecast origin (as_of), with its quantiles and MLflow run id.
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
    f.client_id,
    f.item_id,
    f.date as forecast_date,
    f.step as horizon_step,
    f.as_of,
    f.model,
    f.model_id,
    f.point as forecast_units,
    f.q10, f.q20, f.q30, f.q40, f.q50, f.q60, f.q70, f.q80, f.q90,
    f.mlflow_run_id
from all_forecasts f
join latest l on f.as_of = l.as_of
join champions c on c.item_id = f.item_id and c.model = f.model
