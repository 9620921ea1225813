select
    client_id,
    item_id,
    cast(date as date) as stock_date,
    cast(on_hand as double precision) as on_hand,
    cast(on_order as double precision) as on_order
from {{ source('raw', 'stock_levels') }}
