{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='order_date',
        on_schema_change='fail',
        pre_hook="{{ drp_delete_superseded_orders('order_date', to_utc_date('order_created_at')) }}",
    )
}}

{#
    One row per order date (UTC). An incremental run recomputes only the dates of the orders
    this interval touched, from all of those dates' orders, so a status update arriving days
    later moves the counts of the order's own date. The dates of the orders of the interval's
    superseded batches are deleted first (pre-hook) and recomputed too: a date left without
    orders keeps no row.
#}

with

touched_dates as (

    select order_date
    from {{ ref('fct_orders') }}
    where {{ drp_touched_filter('batch_interval_start') }}

    union

    select {{ to_utc_date('order_created_at') }} as order_date
    from {{ ref('stg_generator__superseded_orders') }}
    where {{ drp_scoped_or_false(drp_touched_filter('batch_interval_start')) }}

),

orders as (

    select
        order_id,
        customer_id,
        order_date,
        status,
        currency,
        amount
    from {{ ref('fct_orders') }}
    where {{ drp_scoped("order_date in (select touched_dates.order_date from touched_dates)") }}

),

aggregated as (

    select
        order_date,
        count(*) as total_orders,
        count(distinct customer_id) as unique_customers,
        cast(sum(amount) as decimal(18, 2)) as total_amount,
        cast(sum(case when currency = 'USD' then amount else 0 end) as decimal(18, 2)) as amount_usd,
        cast(sum(case when currency = 'EUR' then amount else 0 end) as decimal(18, 2)) as amount_eur,
        cast(sum(case when currency = 'GBP' then amount else 0 end) as decimal(18, 2)) as amount_gbp,
        count(case when status = 'placed' then 1 end) as placed_orders,
        count(case when status = 'paid' then 1 end) as paid_orders,
        count(case when status = 'shipped' then 1 end) as shipped_orders,
        count(case when status = 'delivered' then 1 end) as delivered_orders,
        count(case when status = 'cancelled' then 1 end) as cancelled_orders,
        count(case when status = 'returned' then 1 end) as returned_orders
    from orders
    group by order_date

),

final as (

    select
        order_date,
        total_orders,
        unique_customers,
        total_amount,
        {{ safe_ratio('total_amount', 'total_orders', 2) }} as avg_amount,
        amount_usd,
        amount_eur,
        amount_gbp,
        placed_orders,
        paid_orders,
        shipped_orders,
        delivered_orders,
        cancelled_orders,
        returned_orders,
        {{ safe_ratio('cancelled_orders', 'total_orders', 4) }} as cancellation_rate,
        {{ safe_ratio('returned_orders', 'total_orders', 4) }} as return_rate
    from aggregated

)

select * from final
{{ cluster_by(['order_date']) }}
