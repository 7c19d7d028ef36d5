{#
    The mart's totals equal staging's: per order date, daily_order_metrics counts the same
    orders and sums the same amounts (per currency) as staging.orders. A record lost or counted
    twice between staging and the mart shows up as a row here. Interval runs check the order
    dates this interval touched; full runs check every date.
#}

with

scope as (

    select distinct {{ to_utc_date('order_created_at') }} as order_date
    from {{ ref('stg_generator__orders') }}
    where {{ drp_test_interval_filter('batch_interval_start') }}

),

staged_orders as (

    select
        {{ to_utc_date('order_created_at') }} as order_date,
        status,
        currency,
        amount
    from {{ ref('stg_generator__orders') }}
    -- A cheap range test first, so interval runs convert only recent rows' timestamps to dates.
    where {{ drp_test_scoped(
        "order_created_at >= (select cast(min(scope.order_date) - 1 as timestamp with time zone) from scope)"
    ) }}

),

staged as (

    select
        order_date,
        count(*) as total_orders,
        sum(amount) as total_amount,
        sum(case when currency = 'USD' then amount else 0 end) as amount_usd,
        sum(case when currency = 'EUR' then amount else 0 end) as amount_eur,
        sum(case when currency = 'GBP' then amount else 0 end) as amount_gbp,
        count(case when status = 'cancelled' then 1 end) as cancelled_orders,
        count(case when status = 'returned' then 1 end) as returned_orders
    from staged_orders
    where {{ drp_test_scoped("order_date in (select scope.order_date from scope)") }}
    group by order_date

),

mart as (

    select
        order_date,
        total_orders,
        total_amount,
        amount_usd,
        amount_eur,
        amount_gbp,
        cancelled_orders,
        returned_orders
    from {{ ref('daily_order_metrics') }}
    where {{ drp_test_scoped("order_date in (select scope.order_date from scope)") }}

),

compared as (

    select
        coalesce(staged.order_date, mart.order_date) as order_date,
        staged.total_orders as staged_orders,
        mart.total_orders as mart_orders,
        staged.total_amount as staged_amount,
        mart.total_amount as mart_amount
    from staged
    full outer join mart
        on staged.order_date = mart.order_date
    where
        staged.order_date is null
        or mart.order_date is null
        or staged.total_orders != mart.total_orders
        or staged.total_amount != mart.total_amount
        or staged.amount_usd != mart.amount_usd
        or staged.amount_eur != mart.amount_eur
        or staged.amount_gbp != mart.amount_gbp
        or staged.cancelled_orders != mart.cancelled_orders
        or staged.returned_orders != mart.returned_orders

)

select * from compared
