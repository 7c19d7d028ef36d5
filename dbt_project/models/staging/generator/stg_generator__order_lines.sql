{{
    config(
        alias='order_lines',
        unique_key='source_order_id',
        post_hook="{{ drp_delete_superseded_rows() }}",
    )
}}

{#
    The lines of each order's latest version. Lines arrive nested in every delivery of an order
    version (`order_updated_at`), always complete; an incremental run puts the interval's lines
    next to the current lines of the same orders and keeps, per order, the lines of one
    delivery: the newest version, most recently ingested. So all lines of an order come from one
    batch, and a version with fewer lines replaces all lines of the older one (the unique key of
    the replace is the order).
#}

{%- set superseded_keys = drp_superseded_keys('source_order_id') %}

with

live_batches as (

    select batch_id
    from {{ source('ops', 'ingest_batches') }}
    where
        status = 'succeeded'
        and {{ drp_raw_batch_filter('data_interval_start') }}

),

{% if is_incremental() %}

superseded_batches as (

    {{ drp_superseded_batches() }}

),

live_through_end as (

    {{ drp_live_batches_through_end() }}

),

{% endif %}

source as (

    select
        source_order_id,
        line_number,
        product_id,
        quantity,
        unit_price,
        order_updated_at,
        ingested_at,
        batch_id,
        source_system,
        data_interval_start,
        data_interval_end
    from {{ source('raw', 'order_lines_raw') }}
    where
        {{ drp_raw_batch_filter('data_interval_start') }}
        and batch_id in (select live_batches.batch_id from live_batches)

    {% if superseded_keys %}

    -- Keys whose stored row came from a batch that is no longer live: their latest live
    -- version in raw before the build's end (none left: the post-hook deletes the key).
    union all

    select
        source_order_id,
        line_number,
        product_id,
        quantity,
        unit_price,
        order_updated_at,
        ingested_at,
        batch_id,
        source_system,
        data_interval_start,
        data_interval_end
    from {{ source('raw', 'order_lines_raw') }}
    where
        {{ drp_key_in('source_order_id', superseded_keys) }}
        and batch_id in (select live_through_end.batch_id from live_through_end)

    {% endif %}

),

renamed as (

    select
        ---------- ids
        cast(source_order_id as varchar) || '-' || cast(line_number as varchar) as order_line_id,
        cast(source_order_id as varchar) as source_order_id,
        cast(line_number as integer) as line_number,
        cast(product_id as varchar) as product_id,

        ---------- properties
        cast(quantity as integer) as quantity,
        cast(unit_price as decimal(12, 2)) as unit_price,

        ---------- timestamps
        cast(order_updated_at as timestamp with time zone) as order_updated_at,

        ---------- lineage
        cast(ingested_at as timestamp with time zone) as ingested_at,
        batch_id,
        cast(source_system as varchar) as source_system,
        cast(data_interval_start as timestamp with time zone) as batch_interval_start,
        cast(data_interval_end as timestamp with time zone) as batch_interval_end

    from source

),

{% if is_incremental() %}

current_lines as (

    select
        order_line_id,
        source_order_id,
        line_number,
        product_id,
        quantity,
        unit_price,
        order_updated_at,
        ingested_at,
        batch_id,
        source_system,
        batch_interval_start,
        batch_interval_end
    from {{ this }}
    where
        source_order_id in (select renamed.source_order_id from renamed)
        and batch_id not in (select superseded_batches.batch_id from superseded_batches)

),

candidates as (

    select * from renamed
    union all
    select * from current_lines

),

{% else %}

candidates as (

    select * from renamed

),

{% endif %}

ranked as (

    select
        *,
        dense_rank() over (
            partition by source_order_id
            order by order_updated_at desc, ingested_at desc, batch_id desc
        ) as delivery_rank,
        row_number() over (
            partition by source_order_id, line_number
            order by order_updated_at desc, ingested_at desc, batch_id desc
        ) as line_rank
    from candidates

),

final as (

    select
        order_line_id,
        source_order_id,
        line_number,
        product_id,
        quantity,
        unit_price,
        order_updated_at,
        ingested_at,
        batch_id,
        source_system,
        batch_interval_start,
        batch_interval_end
    from ranked
    where
        delivery_rank = 1
        and line_rank = 1

)

select * from final
{{ cluster_by(['batch_interval_start', 'order_line_id']) }}
