{{ config(tags=["daily"]) }}

with orders as (

    select * from {{ ref('stg_raw__orders') }}

),

payments as (

    select * from {{ ref('stg_raw__payments') }}

),

statuses as (

    select * from {{ ref('order_statuses') }}

),

order_payments as (

    select
        order_id,
        {%- for method in var('payment_methods') %}
        sum(case when payment_method = '{{ method }}' then amount else 0 end) as {{ method }}_amount,
        {%- endfor %}
        sum(amount) as paid_amount
    from payments
    group by order_id

)

select
    orders.order_id,
    orders.customer_id,
    orders.order_date,
    orders.status,
    statuses.status_group,
    statuses.is_final,
    orders.amount,
    {%- for method in var('payment_methods') %}
    coalesce(order_payments.{{ method }}_amount, 0) as {{ method }}_amount,
    {%- endfor %}
    coalesce(order_payments.paid_amount, 0) as paid_amount
from orders
left join order_payments on orders.order_id = order_payments.order_id
left join statuses on orders.status = statuses.status
