{# A timestamptz as fixed-format UTC text (microseconds), e.g. to build stable surrogate keys. #}
{% macro format_utc_timestamp(column_name) -%}
    {{ return(adapter.dispatch('format_utc_timestamp', 'drp')(column_name)) }}
{%- endmacro %}

{% macro default__format_utc_timestamp(column_name) -%}
    cast(({{ column_name }} at time zone 'UTC') as varchar)
{%- endmacro %}

{% macro duckdb__format_utc_timestamp(column_name) -%}
    strftime(timezone('UTC', {{ column_name }}), '%Y-%m-%dT%H:%M:%S.%fZ')
{%- endmacro %}

{% macro postgres__format_utc_timestamp(column_name) -%}
    to_char(({{ column_name }} at time zone 'UTC'), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
{%- endmacro %}
