{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='order_id',
        on_schema_change='fail',
        pre_hook="{{ drp_delete_superseded_orders('order_id') }}",
    )
}}

{#
    One row per line of each order's latest version, carrying the order's date, status and
    currency. The unique key is the order: incremental runs replace all lines of the orders this
    interval touched (a status change re-stamps every line of its order). Inputs are read as
    "rows written this interval" plus a key lookup for the rare order whose header changed
    without its lines or the reverse; an empty lookup costs nothing. The orders of the
    interval's superseded batches are deleted first (pre-hook) and looked up again: staging
    holds their latest live version (from any interval) or nothing.
#}

with

superseded as (

    select source_order_id
    from {{ ref('stg_generator__superseded_orders') }}
    where {{ drp_touched_filter('batch_interval_start') }}

),

touched_headers as (

    select source_order_id
    from {{ ref('stg_generator__orders') }}
    where {{ drp_touched_filter('batch_interval_start') }}

),

touched_lines as (

    select distinct source_order_id
    from {{ ref('stg_generator__order_lines') }}
    where {{ drp_touched_filter('batch_interval_start') }}

),

lines_only as (

    select touched_lines.source_order_id
    from touched_lines
    left join touched_headers
        on touched_lines.source_order_id = touched_headers.source_order_id
    where touched_headers.source_order_id is null

),

headers_only as (

    select touched_headers.source_order_id
    from touched_headers
    left join touched_lines
        on touched_headers.source_order_id = touched_lines.source_order_id
    where touched_lines.source_order_id is null

),

order_lines as (

    select
        order_line_id,
        source_order_id,
        line_number,
        product_id,
        quantity,
        unit_price,
        order_updated_at,
        batch_interval_start
    from {{ ref('stg_generator__order_lines') }}
    where {{ drp_touched_filter('batch_interval_start') }}

    union all

    select
        order_line_id,
        source_order_id,
        line_number,
        product_id,
        quantity,
        unit_price,
        order_updated_at,
        batch_interval_start
    from {{ ref('stg_generator__order_lines') }}
    where {{ drp_scoped_or_false(
        "(source_order_id in (select headers_only.source_order_id from headers_only)"
        ~ " or source_order_id in (select superseded.source_order_id from superseded))"
        ~ " and not (" ~ drp_touched_filter('batch_interval_start') ~ ")"
    ) }}

),

orders as (

    select
        source_order_id,
        customer_id,
        status,
        currency,
        order_created_at
    from {{ ref('stg_generator__orders') }}
    where {{ drp_touched_filter('batch_interval_start') }}

    union all

    select
        source_order_id,
        customer_id,
        status,
        currency,
        order_created_at
    from {{ ref('stg_generator__orders') }}
    where {{ drp_scoped_or_false(
        "(source_order_id in (select lines_only.source_order_id from lines_only)"
        ~ " or source_order_id in (select superseded.source_order_id from superseded))"
        ~ " and not (" ~ drp_touched_filter('batch_interval_start') ~ ")"
    ) }}

),

joined as (

    select
        order_lines.order_line_id,
        order_lines.source_order_id as order_id,
        order_lines.line_number,
        order_lines.product_id,
        orders.customer_id,
        {{ to_utc_date('orders.order_created_at') }} as order_date,
        orders.status as order_status,
        orders.currency,
        order_lines.quantity,
        order_lines.unit_price,
        cast(order_lines.quantity * order_lines.unit_price as decimal(18, 2)) as line_amount,
        order_lines.order_updated_at,
        order_lines.batch_interval_start
    from order_lines
    left join orders
        on order_lines.source_order_id = orders.source_order_id

),

final as (

    select * from joined

)

select * from final
{{ cluster_by(['batch_interval_start', 'order_line_id']) }}
