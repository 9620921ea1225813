-- One row per accepted sales line; unit price from the price column or revenue / units.
select
    client_id,
    item_id,
    cast(date as date) as sale_date,
    cast(units_sold as double precision) as units_sold,
    cast(coalesce(price, case when units_sold > 0 then revenue / units_sold end) as double precision) as unit_price
from {{ source('raw', 'sales') }}
