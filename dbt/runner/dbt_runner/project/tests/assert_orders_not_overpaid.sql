-- No order may have been paid more than its value: a join fan-out between orders and payments
-- in the orders mart, or a duplicated payment in raw, would show up here.
select order_id, amount, paid_amount
from {{ ref('orders') }}
where paid_amount > amount
