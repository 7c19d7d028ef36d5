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
    One row per order in its latest state, with its line totals. Incremental runs rebuild the
    orders whose header or lines this interval's batches (re)wrote, whatever their order date.
    Inputs are read as "rows written this interval" (cheap: the tables are clustered by
    interval) plus a key lookup for the rare order whose header changed without its lines or
    the reverse (lines arrive with every order version); an empty lookup costs nothing.
    The orders of the interval's superseded batches are deleted first (pre-hook) and looked up
    again: staging holds their latest live version (from any interval) or nothing.
#}

with

superseded as (

    select source_order_id as order_id
    from {{ ref('stg_generator__superseded_orders') }}
    where {{ drp_touched_filter('batch_interval_start') }}

),

touched_headers as (

    select source_order_id as order_id
    from {{ ref('stg_generator__orders') }}
    where {{ drp_touched_filter('batch_interval_start') }}

),

touched_lines as (

    select order_id
    from {{ ref('int_order_lines_aggregated') }}
    where {{ drp_touched_filter('lines_batch_interval_start') }}

),

lines_only as (

    select touched_lines.order_id
    from touched_lines
    left join touched_headers
        on touched_lines.order_id = touched_headers.order_id
    where touched_headers.order_id is null

),

headers_only as (

    select touched_headers.order_id
    from touched_headers
    left join touched_lines
        on touched_headers.order_id = touched_lines.order_id
    where touched_lines.order_id is null

),

orders as (

    select
        source_order_id,
        customer_id,
        status,
        currency,
        amount,
        order_created_at,
        updated_at,
        batch_id,
        source_system,
        batch_interval_start
    from {{ ref('stg_generator__orders') }}
    where {{ drp_touched_filter('batch_interval_start') }}

    union all

    select
        source_order_id,
        customer_id,
        status,
        currency,
        amount,
        order_created_at,
        updated_at,
        batch_id,
        source_system,
        batch_interval_start
    from {{ ref('stg_generator__orders') }}
    where {{ drp_scoped_or_false(
        "(source_order_id in (select lines_only.order_id from lines_only)"
        ~ " or source_order_id in (select superseded.order_id from superseded))"
        ~ " and not (" ~ drp_touched_filter('batch_interval_start') ~ ")"
    ) }}

),

order_line_totals as (

    select
        order_id,
        line_count,
        product_count,
        item_quantity,
        lines_amount
    from {{ ref('int_order_lines_aggregated') }}
    where {{ drp_touched_filter('lines_batch_interval_start') }}

    union all

    select
        order_id,
        line_count,
        product_count,
        item_quantity,
        lines_amount
    from {{ ref('int_order_lines_aggregated') }}
    where {{ drp_scoped_or_false(
        "(order_id in (select headers_only.order_id from headers_only)"
        ~ " or order_id in (select superseded.order_id from superseded))"
        ~ " and not (" ~ drp_touched_filter('lines_batch_interval_start') ~ ")"
    ) }}

),

joined as (

    select
        orders.source_order_id as order_id,
        orders.customer_id,
        {{ to_utc_date('orders.order_created_at') }} as order_date,
        orders.order_created_at,
        orders.updated_at,
        orders.status,
        orders.currency,
        orders.amount,
        coalesce(order_line_totals.line_count, 0) as line_count,
        coalesce(order_line_totals.product_count, 0) as product_count,
        coalesce(order_line_totals.item_quantity, 0) as item_quantity,
        -- Cast: Postgres drops the column's scale when coalescing with an integer literal.
        cast(coalesce(order_line_totals.lines_amount, 0) as decimal(18, 2)) as lines_amount,
        orders.status = 'cancelled' as is_cancelled,
        orders.status = 'returned' as is_returned,
        orders.status in ('delivered', 'returned') as is_delivered,
        orders.batch_id,
        orders.source_system,
        orders.batch_interval_start
    from orders
    left join order_line_totals
        on orders.source_order_id = order_line_totals.order_id

),

final as (

    select * from joined

)

select * from final
{{ cluster_by(['batch_interval_start', 'order_id']) }}
