{#
    Raw is append-only: a rerun of an interval leaves the previous batch's rows in raw and marks
    that batch `replaced` (a batch that looks broken is `held` and never becomes live). Staging
    reads live (`succeeded`) batches only, so on an incremental interval run it must also forget
    what it took from the interval's batches that are no longer live:

    - `drp_superseded_batches()`        the interval's batches that are not live (a subquery body)
    - `drp_superseded_keys(key)`        keys of `this` rows loaded by those batches, fetched when the
                                        model runs: the model looks their latest live version up
                                        in raw by these constants, which the Postgres scanner
                                        pushes down (a join would read the whole raw table)
    - `drp_live_batches_through_end()`  where that version may come from: live batches of any
                                        interval before the build's end. A later day's batch is
                                        not the warehouse's yet (its own run builds and gates it)
    - `drp_key_in(column, keys)`        `column in (...)` over those constants, `false` when none
    - `drp_delete_superseded_rows()`    staging post-hook: rows still carrying such a batch after
                                        the merge are keys with no live version left: delete them
    - `drp_delete_superseded_orders(column, expression)` mart pre-hook: delete the rows of the
                                        orders the interval's superseded batches held; the model
                                        then rebuilds those that staging still has
#}

{% macro drp_superseded_batches() -%}
    select superseded.batch_id
    from {{ source('ops', 'ingest_batches') }} as superseded
    where
        superseded.status != 'succeeded'
        and {{ drp_raw_batch_filter('superseded.data_interval_start') }}
{%- endmacro %}

{% macro drp_live_batches_through_end() -%}
    {%- set interval = drp_data_interval() -%}
    select live.batch_id
    from {{ source('ops', 'ingest_batches') }} as live
    where
        live.status = 'succeeded'
    {%- if interval['end'] is not none %}
        and live.data_interval_start < {{ drp_timestamptz(interval['end']) }}
    {%- endif %}
{%- endmacro %}

{% macro drp_superseded_keys(key_column) -%}
    {#- a unit test's `this` is a CTE of given rows, not a relation to query -#}
    {%- if not (execute and drp_is_incremental_interval()) or model.resource_type == 'unit_test' -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set query -%}
        select distinct {{ key_column }}
        from {{ this }}
        where
            {{ drp_touched_filter('batch_interval_start') }}
            and batch_id in ({{ drp_superseded_batches() }})
    {%- endset -%}
    {{ return(run_query(query).columns[0].values() | list) }}
{%- endmacro %}

{% macro drp_key_in(column, keys) -%}
    {%- if keys | length == 0 -%}
        false
    {%- else -%}
        {{ column }} in (
        {%- for key in keys -%}
            '{{ key | string | replace("'", "''") }}'{{ ', ' if not loop.last }}
        {%- endfor -%}
        )
    {%- endif -%}
{%- endmacro %}

{% macro drp_delete_superseded_rows() -%}
    {%- if drp_is_incremental_interval() -%}
        delete from {{ this }}
        where
            {{ drp_touched_filter('batch_interval_start') }}
            and batch_id in ({{ drp_superseded_batches() }})
    {%- endif -%}
{%- endmacro %}

{% macro drp_delete_superseded_orders(column, expression='source_order_id') -%}
    {%- if drp_is_incremental_interval() -%}
        delete from {{ this }}
        where {{ column }} in (
            select {{ expression }}
            from {{ ref('stg_generator__superseded_orders') }}
            where {{ drp_touched_filter('batch_interval_start') }}
        )
    {%- endif -%}
{%- endmacro %}
