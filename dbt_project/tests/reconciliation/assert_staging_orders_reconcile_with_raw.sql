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

-- The staging rows this interval wrote, plus a lookup for the raw orders it did not rewrite
-- (a late version older than the stored one): that lookup is empty, and free, most days.
written as (

    select
        source_order_id,
        updated_at
    from {{ ref('stg_generator__orders') }}
    where {{ drp_test_interval_filter('batch_interval_start') }}

),

not_rewritten as (

    select raw_orders.source_order_id
    from raw_orders
    left join written
        on raw_orders.source_order_id = written.source_order_id
    where written.source_order_id is null

),

staged as (

    select
        source_order_id,
        updated_at
    from written

    union all

    select
        source_order_id,
        updated_at
    from {{ ref('stg_generator__orders') }}
    where
        {{ drp_test_scoped("source_order_id in (select not_rewritten.source_order_id from not_rewritten)") }}
        and not ({{ drp_test_interval_filter('batch_interval_start') }})

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
