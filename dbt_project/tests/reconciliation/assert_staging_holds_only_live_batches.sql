{#
    Staging holds rows of live batches only: a rerun replaces a batch (raw keeps its rows, the
    registry says `replaced`) or a broken one is `held`, and staging must not keep what such a
    batch brought. Interval runs check the rows of the interval's batches; full runs check every
    row. One row per staging relation and batch that is not live.
#}

with

live_batches as (

    select batch_id
    from {{ source('ops', 'ingest_batches') }}
    where status = 'succeeded'

),

staged as (

    select
        'staging.orders' as relation,
        batch_id
    from {{ ref('stg_generator__orders') }}
    where {{ drp_test_interval_filter('batch_interval_start') }}

    union all

    select
        'staging.order_lines' as relation,
        batch_id
    from {{ ref('stg_generator__order_lines') }}
    where {{ drp_test_interval_filter('batch_interval_start') }}

    union all

    select
        'staging.customers' as relation,
        batch_id
    from {{ ref('stg_generator__customers') }}
    where {{ drp_test_interval_filter('batch_interval_start') }}

    union all

    select
        'staging.customer_versions' as relation,
        batch_id
    from {{ ref('stg_generator__customer_versions') }}
    where {{ drp_test_interval_filter('batch_interval_start') }}

    union all

    select
        'staging.products' as relation,
        batch_id
    from {{ ref('stg_generator__products') }}
    where {{ drp_test_interval_filter('batch_interval_start') }}

),

final as (

    select
        staged.relation,
        staged.batch_id,
        count(*) as rows_of_a_batch_not_live
    from staged
    left join live_batches
        on staged.batch_id = live_batches.batch_id
    where live_batches.batch_id is null
    group by
        staged.relation,
        staged.batch_id

)

select * from final
