select
    client_id,
    item_id,
    cast(start_date as date) as start_date,
    cast(end_date as date) as end_date,
    promo_type,
    cast(coalesce(discount, 0) as double precision) as discount
from {{ source('raw', 'promotions') }}
