-- Every order's amount must equal the sum of its payments: a join fan-out or a lost payment
-- in the orders mart would break this.
with paid as (

    select order_id, sum(amount) as amount
    from {{ ref('stg_raw__payments') }}
    group by order_id

)

select orders.order_id, orders.amount, paid.amount as paid_amount
from {{ ref('orders') }} as orders
left join paid on orders.order_id = paid.order_id
where orders.amount <> coalesce(paid.amount, 0)
