-- Candidate of fct_forecast_accuracy (built and tested before it replaces the served rows).
-- Rolling-origin backtest accuracy per client and model: per item (level = 'item'), over the
-- client's items (level = 'client') and per horizon step (level = 'step'), for every forecast
-- origin evaluated up to the served origin (served_as_of). Client and step rows compare the
-- models on the same items (n_items: how many; a model run on only a minority of the items, such
-- as croston_sba, is pooled over its own).
-- Columns are cast to the consumer contract's types (_marts.yml, CHANGELOG.md).
select
    cast(client_id as varchar) as client_id,
    cast(as_of as date) as as_of,
    cast(cutoff as date) as cutoff,
    cast(backtest_windows as bigint) as backtest_windows,
    cast(level as varchar) as level,
    cast(model as varchar) as model,
    cast(item_id as varchar) as item_id,
    cast(step as bigint) as step,
    cast(n_obs as bigint) as n_obs,
    cast(mae as double precision) as mae,
    cast(rmse as double precision) as rmse,
    cast(bias as double precision) as bias,
    cast(wape as double precision) as wape,
    cast(mape as double precision) as mape,
    cast(smape as double precision) as smape,
    cast(mase as double precision) as mase,
    cast(wql as double precision) as wql,
    cast(sql as double precision) as sql,
    cast(coverage_80 as double precision) as coverage_80,
    cast(fva as double precision) as fva,
    cast(coalesce(is_champion, false) as boolean) as is_champion,
    cast(champion_reason as varchar) as champion_reason,
    cast(mlflow_run_id as varchar) as mlflow_run_id,
    cast(n_items as bigint) as n_items
from {{ source('ml', 'forecast_evaluation') }}
where client_id = {{ client_id() }}
    -- Origins up to the served one: a later as_of a run superseded (a wrong future date since
    -- fixed) is not served.
    and as_of <= ({{ served_as_of() }})
