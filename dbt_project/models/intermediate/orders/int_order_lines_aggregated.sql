{{
    config(
        unique_key='order_id',
    )
}}

{#
    Line totals per order, shared by fct_orders and the reconciliation tests. Incremental runs
    recompute only the orders whose lines this interval's batches (re)wrote.
#}

with

touched_orders as (

    select distinct source_order_id
    from {{ ref('stg_generator__order_lines') }}
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
    where {{ drp_scoped("source_order_id in (select touched_orders.source_order_id from touched_orders)") }}

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
