select
    client_id,
    item_id,
    name as item_name,
    category,
    cast(unit_cost as double precision) as unit_cost,
    cast(price as double precision) as list_price,
    cast(lead_time_days as double precision) as lead_time_days,
    cast(lead_time_std_days as double precision) as lead_time_std_days,
    cast(moq as double precision) as moq,
    cast(pack_size as double precision) as pack_size
from {{ source('raw', 'products') }}
