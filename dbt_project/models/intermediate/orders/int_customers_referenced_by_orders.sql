{{
    config(
        unique_key='customer_id',
    )
}}

{#
    Every customer id an order has referenced, accumulated run by run: the input for the
    inferred members of dim_customers, so the dimension never rescans all orders.
#}

with

referenced as (

    select distinct customer_id
    from {{ ref('stg_generator__orders') }}
    where {{ drp_touched_filter('batch_interval_start') }}

)

select * from referenced
