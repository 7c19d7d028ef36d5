{#
    A type-2 history is valid when, per key: windows are non-empty, each version ends exactly
    where the next begins (no gap, no overlap), and exactly the last version is open
    (`valid_to` null) and flagged current.
#}
{% test valid_scd2_history(
    model, key_column, valid_from='valid_from', valid_to='valid_to', current_flag='is_current'
) %}

with

versions as (

    select
        {{ key_column }} as version_key,
        {{ valid_from }} as window_start,
        {{ valid_to }} as window_end,
        {{ current_flag }} as is_current_version,
        lead({{ valid_from }}) over (
            partition by {{ key_column }} order by {{ valid_from }}
        ) as next_window_start
    from {{ model }}

),

problems as (

    select
        version_key,
        window_start,
        case
            when window_end is not null and window_end <= window_start then 'empty window'
            when next_window_start is not null and window_end is null then 'open version is not the last'
            when next_window_start is not null and window_end != next_window_start then 'gap or overlap'
            when next_window_start is null and window_end is not null then 'last version is closed'
            when is_current_version != (window_end is null) then 'current flag disagrees with valid_to'
        end as problem
    from versions

)

select *
from problems
where problem is not null

{% endtest %}
