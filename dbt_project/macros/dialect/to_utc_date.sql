{# The UTC calendar date of a timestamptz, independent of the session's time zone. #}
{% macro to_utc_date(column_name) -%}
    {{ return(adapter.dispatch('to_utc_date', 'drp')(column_name)) }}
{%- endmacro %}

{% macro default__to_utc_date(column_name) -%}
    cast(({{ column_name }} at time zone 'UTC') as date)
{%- endmacro %}

{% macro duckdb__to_utc_date(column_name) -%}
    cast(timezone('UTC', {{ column_name }}) as date)
{%- endmacro %}

{% macro postgres__to_utc_date(column_name) -%}
    ({{ column_name }} at time zone 'UTC')::date
{%- endmacro %}
