-- Candidate of fct_inventory_recommendations (built and tested before it replaces the served
-- rows). One row per client item at the served forecast origin (served_as_of): what to order and why, with the item's
-- ABC / XYZ / demand class. An item missing an input has status 'incomplete' and says what is
-- missing; the fields that need that input are null, never guessed. Every column is cast so the
-- consumer contract (names and types, see _marts.yml and CHANGELOG.md) holds whatever wrote it.
with latest as (
    {{ served_as_of() }}
)
select
    cast(i.client_id as varchar) as client_id,
    cast(i.item_id as varchar) as item_id,
    cast(i.as_of as date) as as_of,
    cast(i.champion_model as varchar) as champion_model,
    cast(i.status as varchar) as status,
    cast(i.missing as varchar) as missing,
    cast(i.safety_stock_method as varchar) as safety_stock_method,
    cast(i.service_level as double precision) as service_level,
    cast(i.z as double precision) as z,
    cast(i.lead_time_days as double precision) as lead_time_days,
    cast(i.lead_time_std_days as double precision) as lead_time_std_days,
    cast(i.review_period_days as double precision) as review_period_days,
    cast(i.mean_daily_demand as double precision) as mean_daily_demand,
    cast(i.sigma_daily_demand as double precision) as sigma_daily_demand,
    cast(i.quantile_sigma_daily_demand as double precision) as quantile_sigma_daily_demand,
    cast(i.lead_time_demand as double precision) as lead_time_demand,
    cast(i.lead_time_demand_quantile as double precision) as lead_time_demand_quantile,
    cast(i.safety_stock_sigma as double precision) as safety_stock_sigma,
    cast(i.safety_stock_quantile as double precision) as safety_stock_quantile,
    cast(i.safety_stock as double precision) as safety_stock,
    cast(i.reorder_point as double precision) as reorder_point,
    cast(i.order_up_to_level as double precision) as order_up_to_level,
    cast(i.stock_date as date) as stock_date,
    cast(i.on_hand as double precision) as on_hand,
    cast(i.on_order as double precision) as on_order,
    cast(i.inventory_position as double precision) as inventory_position,
    cast(i.days_of_inventory as double precision) as days_of_inventory,
    cast(i.suggested_order_qty as double precision) as suggested_order_qty,
    cast(i.stockout_probability as double precision) as stockout_probability,
    cast(i.abc_class as varchar) as abc_class,
    cast(i.xyz_class as varchar) as xyz_class,
    cast(i.demand_class as varchar) as demand_class,
    cast(i.revenue as double precision) as revenue,
    cast(i.revenue_share as double precision) as revenue_share,
    cast(i.weekly_demand_cv as double precision) as weekly_demand_cv,
    cast(i.adi as double precision) as adi,
    cast(i.demand_size_cv2 as double precision) as demand_size_cv2,
    cast(i.exposure_demand as double precision) as exposure_demand,
    cast(i.fill_rate as double precision) as fill_rate
from {{ source('ml', 'inventory_metrics') }} i
join latest l on i.as_of = l.as_of
where i.client_id = {{ client_id() }}
