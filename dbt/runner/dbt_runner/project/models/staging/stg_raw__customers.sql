-- raw.customers holds one snapshot per ingest date: keep each customer's latest row.
with source as (

    select * from {{ source('raw', 'customers') }}

),

ranked as (

    select
        *,
        row_number() over (partition by customer_id order by _ingest_date desc) as recency
    from source

)

select
    cast(customer_id as bigint) as customer_id,
    trim(name) as name,
    lower(trim(email)) as email,
    upper(country) as country,
    cast(signup_date as date) as signup_date
from ranked
where recency = 1
