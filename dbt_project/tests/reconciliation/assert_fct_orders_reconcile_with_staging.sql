{#
    fct_orders holds exactly staging.orders: same order ids, same status, amount and version.
    Interval runs check the orders this interval (re)wrote into staging; full runs check all.
    One row per order that differs or exists on one side only.
#}

with

scope as (

    select source_order_id as order_id
    from {{ ref('stg_generator__orders') }}
    where {{ drp_test_interval_filter('batch_interval_start') }}

),

staged as (

    select
        source_order_id as order_id,
        status,
        amount,
        updated_at
    from {{ ref('stg_generator__orders') }}
    where {{ drp_test_scoped("source_order_id in (select scope.order_id from scope)") }}

),

facts as (

    select
        order_id,
        status,
        amount,
        updated_at
    from {{ ref('fct_orders') }}
    where {{ drp_test_scoped("order_id in (select scope.order_id from scope)") }}

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
