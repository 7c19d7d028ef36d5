{# One row per calendar day, column `date_day`, from start_date to end_date inclusive. #}
{% macro date_spine(start_date, end_date) -%}
    {{ return(adapter.dispatch('date_spine', 'drp')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__date_spine(start_date, end_date) -%}
    select cast(series.day_start as date) as date_day
    from generate_series(
        cast('{{ start_date }}' as date),
        cast('{{ end_date }}' as date),
        interval '1 day'
    ) as series (day_start)
{%- endmacro %}

{% macro duckdb__date_spine(start_date, end_date) -%}
    select cast(series.day_start as date) as date_day
    from range(
        cast('{{ start_date }}' as date),
        cast('{{ end_date }}' as date) + interval 1 day,
        interval 1 day
    ) as series (day_start)
{%- endmacro %}

{% macro postgres__date_spine(start_date, end_date) -%}
    select series.day_start::date as date_day
    from generate_series(
        '{{ start_date }}'::date,
        '{{ end_date }}'::date,
        interval '1 day'
    ) as series (day_start)
{%- endmacro %}
