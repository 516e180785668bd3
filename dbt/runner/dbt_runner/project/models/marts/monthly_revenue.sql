{{ config(tags=["monthly"]) }}

select
    cast(date_trunc('month', order_date) as date) as order_month,
    count(order_id) as number_of_orders,
    sum(case when status <> 'returned' then paid_amount else 0 end) as revenue
from {{ ref('orders') }}
group by 1
