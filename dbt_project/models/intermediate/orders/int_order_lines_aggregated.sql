{{
    config(
        unique_key='order_id',
        pre_hook="{{ drp_delete_superseded_orders('order_id') }}",
    )
}}

{#
    Line totals per order, shared by fct_orders and the reconciliation tests. Incremental runs
    recompute the orders whose lines this interval's batches (re)wrote; staging writes an
    order's lines as one complete set, so those rows are all the lines the orders have. The
    orders of the interval's superseded batches are deleted first (pre-hook) and rebuilt from
    the lines staging still has for them, wherever those came from.
#}

with

superseded as (

    select source_order_id
    from {{ ref('stg_generator__superseded_orders') }}
    where {{ drp_touched_filter('batch_interval_start') }}

),

order_lines as (

    select
        source_order_id,
        product_id,
        quantity,
        unit_price,
        batch_interval_start
    from {{ ref('stg_generator__order_lines') }}
    where {{ drp_touched_filter('batch_interval_start') }}

    union all

    select
        source_order_id,
        product_id,
        quantity,
        unit_price,
        batch_interval_start
    from {{ ref('stg_generator__order_lines') }}
    where {{ drp_scoped_or_false(
        "source_order_id in (select superseded.source_order_id from superseded)"
        ~ " and not (" ~ drp_touched_filter('batch_interval_start') ~ ")"
    ) }}

),

aggregated as (

    select
        source_order_id as order_id,
        count(*) as line_count,
        count(distinct product_id) as product_count,
        cast(sum(quantity) as bigint) as item_quantity,
        cast(sum(quantity * unit_price) as decimal(18, 2)) as lines_amount,
        max(batch_interval_start) as lines_batch_interval_start
    from order_lines
    group by source_order_id

)

select * from aggregated
{{ cluster_by(['lines_batch_interval_start', 'order_id']) }}
