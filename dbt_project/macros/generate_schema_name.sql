{#
    Schemas are exact names (`staging`, `intermediate`, `analytics`): the published relations
    are a contract (`staging.orders`, `analytics.daily_order_metrics`), so dbt's default
    `<target_schema>_<custom>` prefixing is turned off. Models without a custom schema land in
    the target's schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
