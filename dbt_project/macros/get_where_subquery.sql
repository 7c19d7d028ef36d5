{#
    Generic tests on interval runs check the rows the run wrote, not the whole history, so a
    daily build costs what the day's data costs. The column that says which rows a run wrote is
    found among the documented columns of the tested model (`batch_interval_start`,
    `lines_batch_interval_start`) or source (`data_interval_start`); a test can name another
    with `config: {meta: {interval_column: …}}` or opt out with `interval_column: none`. Runs
    without an interval test everything. Overrides dbt's `default__get_where_subquery`; a test's
    own `where` still applies.
#}
{% macro default__get_where_subquery(relation) -%}
    {%- set predicates = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do predicates.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set interval_column = drp_test_interval_column() -%}
    {%- if interval_column and drp_is_interval_run() -%}
        {%- do predicates.append(drp_test_interval_filter(interval_column)) -%}
    {%- endif -%}
    {%- if predicates -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ predicates | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{% macro drp_test_interval_column() -%}
    {%- set meta = config.get('meta') or {} -%}
    {%- if 'interval_column' in meta -%}
        {%- set chosen = meta['interval_column'] -%}
        {{ return(none if chosen in (none, 'none', '') else chosen) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set attached = model.get('attached_node') if model is mapping else none -%}
    {#- a namespace: a plain `set` inside a for loop would not outlive the loop -#}
    {%- set found = namespace(node=none) -%}
    {%- if attached and attached in graph.nodes -%}
        {%- set found.node = graph.nodes[attached] -%}
    {%- elif model.get('sources') -%}
        {%- set source_name, table_name = model.get('sources')[0] -%}
        {%- for source in graph.sources.values() -%}
            {%- if source.source_name == source_name and source.name == table_name -%}
                {%- set found.node = source -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set node = found.node -%}
    {%- if node is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- for candidate in ['batch_interval_start', 'lines_batch_interval_start', 'data_interval_start'] -%}
        {%- if candidate in node.get('columns', {}) -%}
            {{ return(candidate) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}
