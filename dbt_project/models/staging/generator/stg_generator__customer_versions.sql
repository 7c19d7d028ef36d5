{{
    config(
        alias='customer_versions',
        unique_key='customer_version_id',
        post_hook="{{ drp_delete_superseded_rows() }}",
    )
}}

{#
    Every distinct version of every customer (one row per customer and `updated_at`): the input
    of the SCD2 dimension. A version delivered twice (a retry, an overlapping interval) is kept
    once, the most recently ingested copy winning.
#}

{%- set superseded_keys = drp_superseded_keys('source_customer_id') %}

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
        source_customer_id,
        name,
        email,
        country,
        city,
        segment,
        customer_created_at,
        updated_at,
        ingested_at,
        batch_id,
        source_system,
        data_interval_start,
        data_interval_end,
        record_hash
    from {{ source('raw', 'customers_raw') }}
    where
        {{ drp_raw_batch_filter('data_interval_start') }}
        and batch_id in (select live_batches.batch_id from live_batches)

    {% if superseded_keys %}

    -- Keys whose stored row came from a batch that is no longer live: their latest live
    -- version in raw before the build's end (none left: the post-hook deletes the key).
    union all

    select
        source_customer_id,
        name,
        email,
        country,
        city,
        segment,
        customer_created_at,
        updated_at,
        ingested_at,
        batch_id,
        source_system,
        data_interval_start,
        data_interval_end,
        record_hash
    from {{ source('raw', 'customers_raw') }}
    where
        {{ drp_key_in('source_customer_id', superseded_keys) }}
        and batch_id in (select live_through_end.batch_id from live_through_end)

    {% endif %}

),

renamed as (

    select
        ---------- ids
        md5(
            cast(source_customer_id as varchar) || '|' || {{ format_utc_timestamp('updated_at') }}
        ) as customer_version_id,
        cast(source_customer_id as varchar) as source_customer_id,

        ---------- properties
        cast(name as varchar) as customer_name,
        lower(trim(email)) as email,
        trim(country) as country,
        cast(city as varchar) as city,
        trim(segment) as segment,

        ---------- timestamps
        cast(customer_created_at as timestamp with time zone) as customer_created_at,
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
        customer_version_id,
        source_customer_id,
        customer_name,
        email,
        country,
        city,
        segment,
        customer_created_at,
        updated_at,
        ingested_at,
        batch_id,
        source_system,
        batch_interval_start,
        batch_interval_end,
        record_hash
    from {{ this }}
    where
        customer_version_id in (select renamed.customer_version_id from renamed)
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
            partition by customer_version_id
            order by ingested_at desc, record_hash desc
        ) as copy_rank
    from candidates

),

final as (

    select
        customer_version_id,
        source_customer_id,
        customer_name,
        email,
        country,
        city,
        segment,
        customer_created_at,
        updated_at,
        ingested_at,
        batch_id,
        source_system,
        batch_interval_start,
        batch_interval_end,
        record_hash
    from ranked
    where copy_rank = 1

)

select * from final
{{ cluster_by(['batch_interval_start', 'customer_version_id']) }}
