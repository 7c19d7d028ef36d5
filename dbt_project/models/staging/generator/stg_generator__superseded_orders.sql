{{
    config(
        alias='superseded_orders',
        unique_key='superseded_order_id',
    )
}}

{#
    The orders held by batches that are no longer live (a rerun replaced them; raw keeps their
    rows), one row per batch and order. Staging forgets what it took from such a batch on its
    own; this list tells the incremental marts which orders (and order dates) to rebuild or
    delete on the run of the superseded batch's interval, since an order that vanished from
    staging leaves no row there to say so.
#}

with

superseded_batches as (

    select batch_id
    from {{ source('ops', 'ingest_batches') }}
    where
        status = 'replaced'
        and {{ drp_raw_batch_filter('data_interval_start') }}

),

source as (

    select
        source_order_id,
        order_created_at,
        batch_id,
        data_interval_start,
        data_interval_end
    from {{ source('raw', 'orders_raw') }}
    where
        {{ drp_raw_batch_filter('data_interval_start') }}
        and batch_id in (select superseded_batches.batch_id from superseded_batches)

),

renamed as (

    select
        ---------- ids
        cast(batch_id as varchar) || '|' || cast(source_order_id as varchar) as superseded_order_id,
        cast(source_order_id as varchar) as source_order_id,

        ---------- timestamps
        cast(order_created_at as timestamp with time zone) as order_created_at,

        ---------- lineage
        batch_id,
        cast(data_interval_start as timestamp with time zone) as batch_interval_start,
        cast(data_interval_end as timestamp with time zone) as batch_interval_end

    from source

),

final as (

    select
        superseded_order_id,
        source_order_id,
        min(order_created_at) as order_created_at,
        batch_id,
        batch_interval_start,
        batch_interval_end
    from renamed
    group by
        superseded_order_id,
        source_order_id,
        batch_id,
        batch_interval_start,
        batch_interval_end

)

select * from final
