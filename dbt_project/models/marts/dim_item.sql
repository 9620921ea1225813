-- Served the item dimension (consumer contract: _marts.yml, CHANGELOG.md): the run client's rows of
-- dim_item__candidate, which `dbt build` has built and tested first. A failing test of any
-- candidate skips every served mart (each depends on all four candidates, below), so the client's
-- previously served rows stay in place; otherwise the pre-hook's delete and this insert replace
-- them in one transaction.
-- depends_on: {{ ref('fct_demand_forecast__candidate') }}
-- depends_on: {{ ref('fct_forecast_accuracy__candidate') }}
-- depends_on: {{ ref('fct_inventory_recommendations__candidate') }}
select * from {{ ref('dim_item__candidate') }}
where client_id = {{ client_id() }}
