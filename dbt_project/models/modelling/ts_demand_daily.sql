-- One row per (client, item, day) from the item's first sale to the client's last sales day,
-- gaps filled with zero units. Price is the observed unit price, carried forward from the last
-- observed day, else the list price. A stock-out day is flagged: what sold that day is not
-- demand, and forecasters treat it as missing. A snapshot with on hand <= 0 flags its own day and
-- every later day until the next snapshot or the next day with sales (clients that send weekly
-- snapshots would otherwise have the empty-shelf days between them counted as zero demand).
with sales as (
    select item_id, sale_date as date, sum(units_sold) as units_sold,
           sum(units_sold * unit_price) / nullif(sum(case when unit_price is not null then units_sold end), 0) as unit_price
    from {{ ref('stg_sales') }}
    where client_id = {{ client_id() }}
    group by item_id, sale_date
),
products as (
    select item_id, list_price from {{ ref('stg_products') }} where client_id = {{ client_id() }}
),
items as (
    select item_id, min(date) as first_date from sales group by item_id
),
spine as (
    {{ date_series('(select min(date) from sales)', '(select max(date) from sales)') }}
),
grid as (
    select i.item_id, s.date
    from items i
    join spine s on s.date >= i.first_date
),
stock as (
    select item_id, stock_date as date, min(on_hand) as on_hand
    from {{ ref('stg_stock_levels') }}
    where client_id = {{ client_id() }}
    group by item_id, stock_date
),
promos as (
    select g.item_id, g.date, max(p.discount) as discount
    from grid g
    join {{ ref('stg_promotions') }} p
      on p.client_id = {{ client_id() }} and p.item_id = g.item_id and g.date between p.start_date and p.end_date
    group by g.item_id, g.date
),
filled as (
    select
        g.item_id,
        g.date,
        coalesce(s.units_sold, 0) as units_sold,
        s.unit_price as observed_price,
        count(s.unit_price) over (partition by g.item_id order by g.date rows between unbounded preceding and current row) as price_group,
        case when pr.item_id is not null then 1 else 0 end as promo_flag,
        coalesce(pr.discount, 0) as promo_discount,
        st.on_hand as snapshot_on_hand,
        count(st.item_id) over (partition by g.item_id order by g.date rows between unbounded preceding and current row) as snapshot_group,
        sum(case when coalesce(s.units_sold, 0) > 0 then 1 else 0 end)
            over (partition by g.item_id order by g.date rows between unbounded preceding and current row) as days_sold
    from grid g
    left join sales s on s.item_id = g.item_id and s.date = g.date
    left join promos pr on pr.item_id = g.item_id and pr.date = g.date
    left join stock st on st.item_id = g.item_id and st.date = g.date
),
carried as (
    -- the latest snapshot's on hand, and how many days had sales up to it, on every day after it
    select
        f.*,
        max(f.snapshot_on_hand) over (partition by f.item_id, f.snapshot_group) as last_on_hand,
        min(f.days_sold) over (partition by f.item_id, f.snapshot_group) as days_sold_at_snapshot
    from filled f
)
select
    {{ client_id() }} as client_id,
    f.item_id,
    f.date,
    cast(f.units_sold as double precision) as units_sold,
    cast(coalesce(
        max(f.observed_price) over (partition by f.item_id, f.price_group),
        p.list_price
    ) as double precision) as price,
    f.promo_flag,
    cast(f.promo_discount as double precision) as promo_discount,
    case
        when f.snapshot_group > 0 and f.last_on_hand <= 0
             and (f.snapshot_on_hand is not null or f.days_sold = f.days_sold_at_snapshot)
        then 1 else 0
    end as is_stockout
from carried f
left join products p on p.item_id = f.item_id
