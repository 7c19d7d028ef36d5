{#
    fct_order_lines holds exactly staging.order_lines (same line ids and quantities), and its
    per-order sums equal int_order_lines_aggregated's. Interval runs compare the lines this
    interval wrote (each order's lines are written as one set, carrying their batch interval
    into the fact and the aggregate); full runs compare everything. One row per discrepancy.
#}

with

staged as (

    select
        order_line_id,
        quantity,
        unit_price
    from {{ ref('stg_generator__order_lines') }}
    where {{ drp_test_interval_filter('batch_interval_start') }}

),

facts as (

    select
        order_line_id,
        order_id,
        quantity,
        unit_price,
        line_amount
    from {{ ref('fct_order_lines') }}
    where {{ drp_test_interval_filter('batch_interval_start') }}

),

aggregated as (

    select
        order_id,
        line_count,
        lines_amount
    from {{ ref('int_order_lines_aggregated') }}
    where {{ drp_test_interval_filter('lines_batch_interval_start') }}

),

line_differences as (

    select
        coalesce(staged.order_line_id, facts.order_line_id) as checked_id,
        'line differs or exists on one side only' as problem
    from staged
    full outer join facts
        on staged.order_line_id = facts.order_line_id
    where
        staged.order_line_id is null
        or facts.order_line_id is null
        or staged.quantity != facts.quantity
        or staged.unit_price != facts.unit_price

),

fact_totals as (

    select
        order_id,
        count(*) as line_count,
        sum(line_amount) as lines_amount
    from facts
    group by order_id

),

order_differences as (

    select
        coalesce(fact_totals.order_id, aggregated.order_id) as checked_id,
        'order line totals differ from int_order_lines_aggregated' as problem
    from fact_totals
    full outer join aggregated
        on fact_totals.order_id = aggregated.order_id
    where
        fact_totals.order_id is null
        or aggregated.order_id is null
        or fact_totals.line_count != aggregated.line_count
        or fact_totals.lines_amount != aggregated.lines_amount

),

final as (

    select * from line_differences
    union all
    select * from order_differences

)

select * from final
