{{
    config(
        unique_key='product_id',
    )
}}

{#
    Every product id an order line has referenced, accumulated run by run: the input for the
    inferred members of dim_products, so the dimension never rescans all order lines.
#}

with

referenced as (

    select distinct product_id
    from {{ ref('stg_generator__order_lines') }}
    where {{ drp_touched_filter('batch_interval_start') }}

)

select * from referenced
