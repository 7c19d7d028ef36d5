{#
    The run's data interval: dbt vars `data_interval_start` / `data_interval_end`, ISO 8601
    timestamps, half-open [start, end) like Airflow's. Both unset: the whole history.

    - `drp_data_interval()`       the validated interval, as UTC ISO strings (or none)
    - `drp_raw_batch_filter(col)` staging: raw rows of the batches inside the interval; the lower
                                  bound only applies to incremental runs, so a first or full
                                  build takes all history up to the interval's end
    - `drp_touched_filter(col)`   downstream incremental models: staging rows (re)written by
                                  this interval's batches
    - `drp_is_incremental_interval()` the model is built incrementally for one interval: the
                                  models restrict their inputs to the touched keys only then
    - `drp_test_interval_filter(col)` singular tests: scope checks to the interval when given
#}

{% macro drp_data_interval() -%}
    {%- set raw_start = var('data_interval_start', none) -%}
    {%- set raw_end = var('data_interval_end', none) -%}
    {%- set start = drp_parse_interval_bound('data_interval_start', raw_start) -%}
    {%- set end = drp_parse_interval_bound('data_interval_end', raw_end) -%}
    {%- if start is not none and end is none -%}
        {{ exceptions.raise_compiler_error("data_interval_start is set but data_interval_end is not") }}
    {%- endif -%}
    {%- if start is not none and end is not none and start >= end -%}
        {{ exceptions.raise_compiler_error(
            "empty data interval: data_interval_start (" ~ raw_start
            ~ ") must be before data_interval_end (" ~ raw_end ~ ")") }}
    {%- endif -%}
    {{ return({
        'start': start.isoformat() if start is not none else none,
        'end': end.isoformat() if end is not none else none,
    }) }}
{%- endmacro %}

{% macro drp_parse_interval_bound(name, value) -%}
    {%- if value is none or (value | string | trim) in ('', 'None', 'none', 'null') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = (value | string | trim) -%}
    {%- if text.endswith('Z') -%}
        {%- set text = text[:-1] ~ '+00:00' -%}
    {%- endif -%}
    {%- set parsed = none -%}
    {%- if modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]+([+-][0-9]{2}:?[0-9]{2})?)?$', text) -%}
        {%- set parsed = modules.datetime.datetime.fromisoformat(text) -%}
    {%- endif -%}
    {%- if parsed is none -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ name ~ " must be an ISO 8601 timestamp, got '" ~ value ~ "'") }}
    {%- endif -%}
    {%- if parsed.tzinfo is none -%}
        {%- set parsed = parsed.replace(tzinfo=modules.pytz.utc) -%}
    {%- endif -%}
    {{ return(parsed.astimezone(modules.pytz.utc)) }}
{%- endmacro %}

{% macro drp_timestamptz(iso_value) -%}
    cast('{{ iso_value }}' as timestamp with time zone)
{%- endmacro %}

{% macro drp_raw_batch_filter(column) -%}
    {%- set interval = drp_data_interval() -%}
    {%- set predicates = [] -%}
    {%- if interval.start is not none and is_incremental() -%}
        {%- do predicates.append(column ~ ' >= ' ~ drp_timestamptz(interval.start)) -%}
    {%- endif -%}
    {%- if interval['end'] is not none -%}
        {%- do predicates.append(column ~ ' < ' ~ drp_timestamptz(interval['end'])) -%}
    {%- endif -%}
    {{- predicates | join(' and ') if predicates else 'true' -}}
{%- endmacro %}

{% macro drp_touched_filter(column) -%}
    {%- set interval = drp_data_interval() -%}
    {%- if drp_is_incremental_interval() -%}
        {{- column }} >= {{ drp_timestamptz(interval.start) }}
        and {{ column }} < {{ drp_timestamptz(interval['end']) -}}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro drp_test_interval_filter(column) -%}
    {%- set interval = drp_data_interval() -%}
    {%- set predicates = [] -%}
    {%- if interval.start is not none -%}
        {%- do predicates.append(column ~ ' >= ' ~ drp_timestamptz(interval.start)) -%}
    {%- endif -%}
    {%- if interval['end'] is not none -%}
        {%- do predicates.append(column ~ ' < ' ~ drp_timestamptz(interval['end'])) -%}
    {%- endif -%}
    {{- predicates | join(' and ') if predicates else 'true' -}}
{%- endmacro %}

{# True when this run is scoped to an interval (tests use it to pick their checks). #}
{% macro drp_is_interval_run() -%}
    {{ return(drp_data_interval().start is not none) }}
{%- endmacro %}

{# True when the current model is built incrementally for one interval (not all history). #}
{% macro drp_is_incremental_interval() -%}
    {{ return(is_incremental() and drp_data_interval().start is not none) }}
{%- endmacro %}

{#
    `predicate` on an incremental interval build of the current model, else `true`: models
    restrict their inputs to the keys the interval touched only when building one interval.
#}
{% macro drp_scoped(predicate) -%}
    {{- predicate if drp_is_incremental_interval() else 'true' -}}
{%- endmacro %}

{# `predicate` when the run is scoped to an interval, else `true` (for singular tests). #}
{% macro drp_test_scoped(predicate) -%}
    {{- predicate if drp_is_interval_run() else 'true' -}}
{%- endmacro %}

{#
    `predicate` on an incremental interval build, else `false`: for the second half of a
    "rows written this interval, plus the few others these keys need" union, which a full build
    does not need (its first half already has every row).
#}
{% macro drp_scoped_or_false(predicate) -%}
    {{- predicate if drp_is_incremental_interval() else 'false' -}}
{%- endmacro %}
