{#
    Fails for every row where `expression` is not true (null counts as a failure).
    Usage: `- expression_is_true: {arguments: {expression: "valid_to > valid_from"}}`.
#}
{% test expression_is_true(model, expression, column_name=none) %}

select *
from {{ model }}
where not coalesce({{ expression }}, false)

{% endtest %}
