-- Covariates per (client, item, day) over history plus the forecast horizon: calendar features,
-- the client's holidays (raw.holidays: HOLIDAY_COUNTRY's, written by ingestion), and the planned
-- promotion and price. planned_price uses today's list price: right for the forecast from the last
-- day; a backtest origin re-bases it on the price known at its cutoff (chronos_frames.build_frames).
with items as (
    select item_id, min(date) as first_date, max(date) as last_date
    from {{ ref('ts_demand_daily') }}
    where client_id = {{ client_id() }}
    group by item_id
),
bounds as (
    select min(first_date) as start_date, max(last_date) + {{ var('horizon') }} as end_date from items
),
spine as (
    {{ date_series('(select start_date from bounds)', '(select end_date from bounds)') }}
),
holidays as (
    select cast(date as date) as holiday_date, min(name) as holiday_name
    from {{ source('raw', 'holidays') }}
    where client_id = {{ client_id() }}
    group by 1
),
days as (
    select
        s.date,
        cast(extract(isodow from s.date) as integer) as iso_weekday,
        case when extract(isodow from s.date) in (6, 7) then 1 else 0 end as is_weekend,
        cast(extract(month from s.date) as integer) as month,
        case when h.holiday_date is not null then 1 else 0 end as is_holiday,
        h.holiday_name,
        (select min(h2.holiday_date) from holidays h2 where h2.holiday_date >= s.date) - s.date as days_to_holiday
    from spine s
    left join holidays h on h.holiday_date = s.date
),
products as (
    select item_id, list_price from {{ ref('stg_products') }} where client_id = {{ client_id() }}
),
promos as (
    select i.item_id, d.date, max(p.discount) as discount
    from items i
    cross join days d
    join {{ ref('stg_promotions') }} p
      on p.client_id = {{ client_id() }} and p.item_id = i.item_id and d.date between p.start_date and p.end_date
    group by i.item_id, d.date
)
select
    {{ client_id() }} as client_id,
    i.item_id,
    d.date,
    d.iso_weekday,
    d.is_weekend,
    d.month,
    d.is_holiday,
    d.holiday_name,
    cast(coalesce(d.days_to_holiday, 366) as integer) as days_to_holiday,
    case when pr.item_id is not null then 1 else 0 end as promo_flag,
    cast(coalesce(pr.discount, 0) as double precision) as promo_discount,
    cast(p.list_price * (1 - coalesce(pr.discount, 0)) as double precision) as planned_price,
    case when d.date > i.last_date then 1 else 0 end as is_future
from items i
join days d on d.date >= i.first_date
left join promos pr on pr.item_id = i.item_id and pr.date = d.date
left join products p on p.item_id = i.item_id
