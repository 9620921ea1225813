-- Holdout accuracy per client, model and item (level = 'item') and per client and model
-- (level = 'client'), for every forecast origin evaluated. Columns are cast to the consumer
-- contract's types (_marts.yml, CHANGELOG.md).
select
    cast(client_id as varchar) as client_id,
    cast(as_of as date) as as_of,
    cast(cutoff as date) as cutoff,
    cast(level as varchar) as level,
    cast(model as varchar) as model,
    cast(item_id as varchar) as item_id,
    cast(n_obs as bigint) as n_obs,
    cast(mae as double precision) as mae,
    cast(rmse as double precision) as rmse,
    cast(bias as double precision) as bias,
    cast(wape as double precision) as wape,
    cast(mase as double precision) as mase,
    cast(is_champion as boolean) as is_champion,
    cast(champion_reason as varchar) as champion_reason
from {{ source('ml', 'forecast_evaluation') }}
where client_id = {{ client_id() }}
