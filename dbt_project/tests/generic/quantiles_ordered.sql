{% test quantiles_ordered(model, columns) %}
    select *
    from {{ model }}
    where {% for i in range(columns | length - 1) -%}
        {{ columns[i] }} > {{ columns[i + 1] }} + 1e-9 {% if not loop.last %} or {% endif %}
    {%- endfor %}
{% endtest %}
