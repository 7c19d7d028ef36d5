{{
    config(
        alias='orders',
        unique_key='source_order_id',
        post_hook="{{ drp_delete_superseded_rows() }}",
    )
}}

{#
    One row per order: its latest version. An incremental run reads only the raw rows of the
    interval's batches, puts them next to the current version of the same orders, and keeps the
    newest of each, so a late or out-of-order record can never replace a newer version.
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
        customer_id,
        status,
        currency,
        amount,
        order_created_at,
        updated_at,
        ingested_at,
        batch_id,
        source_system,
        data_interval_start,
        data_interval_end,
        record_hash
    from {{ source('raw', 'orders_raw') }}
    where
        {{ drp_raw_batch_filter('data_interval_start') }}
        and batch_id in (select live_batches.batch_id from live_batches)

    {% if superseded_keys %}

    -- Keys whose stored row came from a batch that is no longer live: their latest live
    -- version in raw before the build's end (none left: the post-hook deletes the key).
    union all

    select
        source_order_id,
        customer_id,
        status,
        currency,
        amount,
        order_created_at,
        updated_at,
        ingested_at,
        batch_id,
        source_system,
        data_interval_start,
        data_interval_end,
        record_hash
    from {{ source('raw', 'orders_raw') }}
    where
        {{ drp_key_in('source_order_id', superseded_keys) }}
        and batch_id in (select live_through_end.batch_id from live_through_end)

    {% endif %}

),

renamed as (

    select
        ---------- ids
        cast(source_order_id as varchar) as source_order_id,
        cast(customer_id as varchar) as customer_id,

        ---------- properties
        lower(trim(status)) as status,
        upper(trim(currency)) as currency,
        cast(amount as decimal(12, 2)) as amount,

        ---------- timestamps
        cast(order_created_at as timestamp with time zone) as order_created_at,
        cast(updated_at as timestamp with time zone) as updated_at,

        ---------- lineage
        cast(ingested_at as timestamp with time zone) as ingested_at,
        batch_id,
        cast(source_system as varchar) as source_system,
        cast(data_interval_start as timestamp with time zone) as batch_interval_start,
        cast(data_interval_end as timestamp with time zone) as batch_interval_end,
        cast(record_hash as varchar) as record_hash

    from source

),

{% if is_incremental() %}

current_versions as (

    select
        source_order_id,
        customer_id,
        status,
        currency,
        amount,
        order_created_at,
        updated_at,
        ingested_at,
        batch_id,
        source_system,
        batch_interval_start,
        batch_interval_end,
        record_hash
    from {{ this }}
    where
        source_order_id in (select renamed.source_order_id from renamed)
        and batch_id not in (select superseded_batches.batch_id from superseded_batches)

),

candidates as (

    select * from renamed
    union all
    select * from current_versions

),

{% else %}

candidates as (

    select * from renamed

),

{% endif %}

ranked as (

    select
        *,
        row_number() over (
            partition by source_order_id
            order by updated_at desc, ingested_at desc, record_hash desc
        ) as version_rank
    from candidates

),

final as (

    select
        source_order_id,
        customer_id,
        status,
        currency,
        amount,
        order_created_at,
        updated_at,
        ingested_at,
        batch_id,
        source_system,
        batch_interval_start,
        batch_interval_end,
        record_hash
    from ranked
    where version_rank = 1

)

select * from final
{{ cluster_by(['batch_interval_start', 'source_order_id']) }}
