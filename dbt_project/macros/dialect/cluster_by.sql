{#
    Physical clustering for the big tables. DuckDB prunes row groups by their min/max
    statistics, so a table written in `batch_interval_start` order lets an interval run (and the
    tests scoped to it) read only the recent row groups; incremental runs append in that order
    anyway, only a full build needs the sort. Strings only keep an 8-byte prefix in those
    statistics, so time columns are what make pruning work. Postgres: no-op (heap order does
    not drive its plans; the raw tables have indexes instead).
#}
{% macro cluster_by(columns) -%}
    {{ return(adapter.dispatch('cluster_by', 'drp')(columns)) }}
{%- endmacro %}

{% macro default__cluster_by(columns) -%}
{%- endmacro %}

{% macro duckdb__cluster_by(columns) -%}
    order by {{ columns | join(', ') }}
{%- endmacro %}
