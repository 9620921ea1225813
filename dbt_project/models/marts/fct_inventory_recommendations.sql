-- One row per client item at the latest forecast origin: what to order and why.
with latest as (
    select max(as_of) as as_of from {{ source('ml', 'inventory_metrics') }} where client_id = {{ client_id() }}
)
select
    i.client_id,
    i.item_id,
    i.as_of,
    i.champion_model,
    i.status,
    i.missing,
    i.service_level,
    i.lead_time_days,
    i.mean_daily_demand,
    i.sigma_daily_demand,
    i.safety_stock,
    i.reorder_point,
    i.order_up_to_level,
    i.on_hand,
    i.on_order,
    i.days_of_inventory,
    i.suggested_order_qty,
    i.stockout_probability
from {{ source('ml', 'inventory_metrics') }} i
join latest l on i.as_of = l.as_of
where i.client_id = {{ client_id() }}
