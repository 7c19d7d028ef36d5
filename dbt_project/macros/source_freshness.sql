{#
    Source freshness of one run's interval (`dbt source freshness --vars` with the interval).

    A source is fresh for an interval when its newest change delivered for that interval is close
    to the interval's end: the age dbt compares with `warn_after`/`error_after` is
    `data_interval_end - max(<changed-at column>)` over the interval's live batches. Measured at
    wall-clock time instead, every backfill or rerun of a past day would be "stale", and the
    ingestion time (`ingested_at`) says when we loaded, not whether the source kept up.

    - `drp_source_newest_change(column)`  a source's `loaded_at_query`: the newest `column` in
                                          the live batches of the interval (all live batches
                                          without an interval); null, "infinitely old", when the
                                          interval delivered nothing
    - `default__collect_freshness_custom_sql` dbt's own macro with one change: the snapshot time
                                          is the interval's end when the run has one
#}

{% macro drp_source_newest_change(column) -%}
    select max({{ column }})
    from {{ this }}
    where
        {{ drp_test_interval_filter('data_interval_start') }}
        and batch_id in (
            select batch_id
            from {{ source('ops', 'ingest_batches') }}
            where status = 'succeeded'
        )
{%- endmacro %}

{% macro default__collect_freshness_custom_sql(source, loaded_at_query) %}
    {%- set interval_end = drp_data_interval()['end'] -%}
    {%- set snapshotted_at = (
        drp_timestamptz(interval_end) if interval_end is not none else current_timestamp()
    ) -%}
    {% call statement('collect_freshness_custom_sql', fetch_result=True, auto_begin=False) -%}
        with source_query as (
            {{ loaded_at_query }}
        )

        select
            (select * from source_query) as max_loaded_at,
            {{ snapshotted_at }} as snapshotted_at
    {%- endcall %}
    {{ return(load_result('collect_freshness_custom_sql')) }}
{% endmacro %}
