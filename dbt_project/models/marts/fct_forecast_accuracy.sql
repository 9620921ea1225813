-- Holdout accuracy per client, model and item (level = 'item') and per client and model
-- (level = 'client'), for every forecast origin evaluated.
select
    client_id,
    as_of,
    cutoff,
    level,
    model,
    item_id,
    n_obs,
    mae,
    rmse,
    bias,
    wape,
    mase,
    is_champion,
    champion_reason
from {{ source('ml', 'forecast_evaluation') }}
where client_id = {{ client_id() }}
