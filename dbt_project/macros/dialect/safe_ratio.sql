{#
    numerator / denominator as an exact decimal rounded to `scale` places; null when the
    denominator is 0. DuckDB's `/` on integers is floating point, Postgres' is integer division,
    so each dialect casts differently.
#}
{% macro safe_ratio(numerator, denominator, scale=4) -%}
    {{ return(adapter.dispatch('safe_ratio', 'drp')(numerator, denominator, scale)) }}
{%- endmacro %}

{% macro default__safe_ratio(numerator, denominator, scale) -%}
    cast(
        round(cast({{ numerator }} as numeric) / nullif({{ denominator }}, 0), {{ scale }})
        as numeric(18, {{ scale }})
    )
{%- endmacro %}

{% macro duckdb__safe_ratio(numerator, denominator, scale) -%}
    cast(
        round(cast({{ numerator }} as decimal(38, 10)) / nullif({{ denominator }}, 0), {{ scale }})
        as decimal(18, {{ scale }})
    )
{%- endmacro %}

{% macro postgres__safe_ratio(numerator, denominator, scale) -%}
    round(({{ numerator }})::numeric / nullif({{ denominator }}, 0), {{ scale }})::numeric(18, {{ scale }})
{%- endmacro %}
