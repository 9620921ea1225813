-- Candidate of dim_item (built and tested before it replaces the served rows). One row per client
-- item: what the client told us about it (products landing file) and how it classifies (ABC by
-- revenue, XYZ by weekly demand CV, Syntetos-Boylan demand class) at the served forecast origin
-- (served_as_of). Items never classified yet have null classes and classified_as_of.
with latest as (
    {{ served_as_of() }}
),
classes as (
    select i.item_id, i.as_of, i.abc_class, i.xyz_class, i.demand_class, i.revenue_share
    from {{ source('ml', 'inventory_metrics') }} i
    join latest l on i.as_of = l.as_of
    where i.client_id = {{ client_id() }}
)
select
    cast(p.client_id as varchar) as client_id,
    cast(p.item_id as varchar) as item_id,
    cast(p.item_name as varchar) as item_name,
    cast(p.category as varchar) as category,
    cast(p.unit_cost as double precision) as unit_cost,
    cast(p.list_price as double precision) as list_price,
    cast(p.lead_time_days as double precision) as lead_time_days,
    cast(p.lead_time_std_days as double precision) as lead_time_std_days,
    cast(p.moq as double precision) as moq,
    cast(p.pack_size as double precision) as pack_size,
    cast(c.abc_class as varchar) as abc_class,
    cast(c.xyz_class as varchar) as xyz_class,
    cast(c.demand_class as varchar) as demand_class,
    cast(c.revenue_share as double precision) as revenue_share,
    cast(c.as_of as date) as classified_as_of
from {{ ref('stg_products') }} p
left join classes c on c.item_id = p.item_id
where p.client_id = {{ client_id() }}
