{#
    One row per product, its current attributes. A product that order lines reference but that
    never arrived (late, or quarantined upstream) gets an inferred member (`is_inferred`,
    attributes null) so facts always join; it disappears once the real record lands.
#}

with

ordered_products as (

    select product_id
    from {{ ref('int_products_referenced_by_order_lines') }}

),

products as (

    select
        source_product_id,
        product_name,
        category,
        unit_price,
        currency,
        product_created_at,
        updated_at
    from {{ ref('stg_generator__products') }}

),

known as (

    select
        source_product_id as product_id,
        product_name,
        category,
        unit_price,
        currency,
        product_created_at,
        updated_at,
        false as is_inferred
    from products

),

inferred as (

    select
        ordered_products.product_id,
        cast(null as varchar) as product_name,
        cast(null as varchar) as category,
        cast(null as decimal(12, 2)) as unit_price,
        cast(null as varchar) as currency,
        cast(null as timestamp with time zone) as product_created_at,
        cast(null as timestamp with time zone) as updated_at,
        true as is_inferred
    from ordered_products
    left join products
        on ordered_products.product_id = products.source_product_id
    where products.source_product_id is null

),

final as (

    select * from known
    union all
    select * from inferred

)

select * from final
