{# English month and weekday names of a date. #}
{% macro month_name(date_column) -%}
    {{ return(adapter.dispatch('month_name', 'drp')(date_column)) }}
{%- endmacro %}

{% macro default__month_name(date_column) -%}
    trim(to_char({{ date_column }}, 'Month'))
{%- endmacro %}

{% macro duckdb__month_name(date_column) -%}
    monthname({{ date_column }})
{%- endmacro %}

{% macro day_name(date_column) -%}
    {{ return(adapter.dispatch('day_name', 'drp')(date_column)) }}
{%- endmacro %}

{% macro default__day_name(date_column) -%}
    trim(to_char({{ date_column }}, 'Day'))
{%- endmacro %}

{% macro duckdb__day_name(date_column) -%}
    dayname({{ date_column }})
{%- endmacro %}
