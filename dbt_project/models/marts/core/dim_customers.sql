{#
    Customers as a type-2 slowly changing dimension: one row per version of a customer's
    attributes, valid over [valid_from, valid_to). Consecutive versions whose attributes did not
    change are merged. The first version is valid from the customer's creation.
    A customer that orders reference but that never arrived (late, or quarantined upstream) gets
    an inferred member (`is_inferred`, attributes null) so facts always join; it disappears on
    the first run after the real record lands. Rebuilt from staging on every run (customers are
    few, and the ids orders reference are collected incrementally).
#}

with

ordering_customers as (

    select customer_id
    from {{ ref('int_customers_referenced_by_orders') }}

),

customer_versions as (

    select
        customer_version_id,
        source_customer_id,
        customer_name,
        email,
        country,
        city,
        segment,
        customer_created_at,
        updated_at
    from {{ ref('stg_generator__customer_versions') }}

),

compared as (

    select
        *,
        md5(
            coalesce(customer_name, '') || '|' || coalesce(email, '') || '|'
            || coalesce(country, '') || '|' || coalesce(city, '') || '|' || coalesce(segment, '')
        ) as attributes_hash
    from customer_versions

),

flagged as (

    select
        *,
        lag(attributes_hash) over (
            partition by source_customer_id order by updated_at
        ) as previous_attributes_hash
    from compared

),

changes as (

    select *
    from flagged
    where
        previous_attributes_hash is null
        or previous_attributes_hash != attributes_hash

),

windowed as (

    select
        *,
        row_number() over (partition by source_customer_id order by updated_at) as version_number,
        lead(updated_at) over (partition by source_customer_id order by updated_at) as next_updated_at
    from changes

),

versioned as (

    select
        customer_version_id as customer_sk,
        source_customer_id as customer_id,
        customer_name,
        email,
        country,
        city,
        segment,
        customer_created_at,
        version_number,
        case
            when version_number = 1 then least(customer_created_at, updated_at)
            else updated_at
        end as valid_from,
        next_updated_at as valid_to,
        next_updated_at is null as is_current,
        false as is_inferred
    from windowed

),

inferred as (

    select
        md5(ordering_customers.customer_id || '|inferred') as customer_sk,
        ordering_customers.customer_id,
        cast(null as varchar) as customer_name,
        cast(null as varchar) as email,
        cast(null as varchar) as country,
        cast(null as varchar) as city,
        cast(null as varchar) as segment,
        cast(null as timestamp with time zone) as customer_created_at,
        1 as version_number,
        cast('1970-01-01 00:00:00+00' as timestamp with time zone) as valid_from,
        cast(null as timestamp with time zone) as valid_to,
        true as is_current,
        true as is_inferred
    from ordering_customers
    left join customer_versions
        on ordering_customers.customer_id = customer_versions.source_customer_id
    where customer_versions.source_customer_id is null

),

final as (

    select * from versioned
    union all
    select * from inferred

)

select * from final
