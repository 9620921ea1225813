{# Rows of the model whose key (several columns) has no row in `to`: a composite-key relationship,
   e.g. every (client_id, item_id) of dim_item has an inventory row. The model is wrapped in a
   subquery: with a `where` config (dbt_project.yml scopes every test to the run's client) dbt
   passes `(select ... where ...) dbt_subquery`, which takes no second alias. #}
{% test has_match(model, columns, to) %}
    select {% for c in columns %}m.{{ c }}{% if not loop.last %}, {% endif %}{% endfor %}
    from (select * from {{ model }}) m
    where not exists (
        select 1 from {{ to }} t
        where {% for c in columns %}t.{{ c }} = m.{{ c }}{% if not loop.last %} and {% endif %}{% endfor %}
    )
{% endtest %}
