with source as (

    select * from {{ source('raw', 'payments') }}

)

select
    cast(payment_id as bigint) as payment_id,
    cast(order_id as bigint) as order_id,
    lower(trim(payment_method)) as payment_method,
    cast(amount as decimal(12, 2)) as amount,
    paid_at
from source
