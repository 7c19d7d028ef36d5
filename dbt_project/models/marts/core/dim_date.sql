{# One row per calendar day between vars dim_date_start and dim_date_end. #}

with

date_spine as (

    {{ date_spine(var('dim_date_start'), var('dim_date_end')) }}

),

final as (

    select
        date_day,
        cast(extract(year from date_day) as integer) as year_number,
        cast(extract(quarter from date_day) as integer) as quarter_number,
        cast(extract(month from date_day) as integer) as month_number,
        {{ month_name('date_day') }} as month_name,
        cast(extract(day from date_day) as integer) as day_of_month,
        cast(extract(isodow from date_day) as integer) as iso_day_of_week,
        {{ day_name('date_day') }} as day_name,
        cast(extract(week from date_day) as integer) as iso_week_number,
        cast(extract(isodow from date_day) as integer) in (6, 7) as is_weekend,
        cast(date_trunc('month', date_day) as date) as first_day_of_month
    from date_spine

)

select * from final
