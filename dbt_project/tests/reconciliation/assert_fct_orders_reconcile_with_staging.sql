{#
    fct_orders holds exactly staging.orders: same order ids, same status, amount and version.
    Interval runs compare the rows this interval wrote on both sides (fct_orders carries the
    staging row's batch interval, so a fact that was not rebuilt shows up as missing); full
    runs compare everything. One row per order that differs or exists on one side only.
#}

with

staged as (

    select
        source_order_id as order_id,
        status,
        amount,
        updated_at
    from {{ ref('stg_generator__orders') }}
    where {{ drp_test_interval_filter('batch_interval_start') }}

),

facts as (

    select
        order_id,
        status,
        amount,
        updated_at
    from {{ ref('fct_orders') }}
    where {{ drp_test_interval_filter('batch_interval_start') }}

),

compared as (

    select
        coalesce(staged.order_id, facts.order_id) as order_id,
        case
            when facts.order_id is null then 'in staging, missing from fct_orders'
            when staged.order_id is null then 'in fct_orders, not in staging'
            else 'status, amount or version differ'
        end as problem
    from staged
    full outer join facts
        on staged.order_id = facts.order_id
    where
        staged.order_id is null
        or facts.order_id is null
        or staged.status != facts.status
        or staged.amount != facts.amount
        or staged.updated_at != facts.updated_at

)

select * from compared
