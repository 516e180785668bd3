with source as (

    select * from {{ source('raw', 'orders') }}

)

select
    cast(order_id as bigint) as order_id,
    cast(customer_id as bigint) as customer_id,
    cast(order_date as date) as order_date,
    lower(trim(status)) as status,
    cast(amount as decimal(12, 2)) as amount,
    _ingest_date as ingest_date
from source
