{#
    staging.orders holds every order of raw's live batches, each at its newest version.
    Interval runs check the orders of the interval's batches; full runs also check that staging
    holds exactly the distinct raw orders (count and keys). One row per discrepancy.
#}

with

live_batches as (

    select batch_id
    from {{ source('ops', 'ingest_batches') }}
    where
        status = 'succeeded'
        and {{ drp_test_interval_filter('data_interval_start') }}

),

raw_orders as (

    select
        cast(source_order_id as varchar) as source_order_id,
        max(updated_at) as latest_updated_at
    from {{ source('raw', 'orders_raw') }}
    where
        {{ drp_test_interval_filter('data_interval_start') }}
        and batch_id in (select live_batches.batch_id from live_batches)
    group by source_order_id

),

staged as (

    select
        source_order_id,
        updated_at
    from {{ ref('stg_generator__orders') }}

),

missing_from_staging as (

    select
        raw_orders.source_order_id,
        'in raw, missing from staging' as problem
    from raw_orders
    left join staged
        on raw_orders.source_order_id = staged.source_order_id
    where staged.source_order_id is null

),

stale_in_staging as (

    select
        raw_orders.source_order_id,
        'staging holds an older version than raw' as problem
    from raw_orders
    inner join staged
        on raw_orders.source_order_id = staged.source_order_id
    where staged.updated_at < raw_orders.latest_updated_at

),

{% if drp_is_interval_run() %}

unexpected_in_staging as (

    select
        source_order_id,
        problem
    from missing_from_staging
    where false

),

{% else %}

unexpected_in_staging as (

    select
        staged.source_order_id,
        'in staging, not in raw' as problem
    from staged
    left join raw_orders
        on staged.source_order_id = raw_orders.source_order_id
    where raw_orders.source_order_id is null

),

{% endif %}

final as (

    select * from missing_from_staging
    union all
    select * from stale_in_staging
    union all
    select * from unexpected_in_staging

)

select * from final
