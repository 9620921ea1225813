"""Marts serve the latest completed non-retrospective run's as_of, not max(as_of): the whole flow
(baselines only, for speed) on generated data, on the suite's backend, with real dbt."""

import datetime as dt

from dagster import materialize

from forecast_assets.definitions import build_assets, build_resource_defs
from forecast_assets.defs.evaluation import RETROSPECTIVE_TAG
from forecast_assets.defs.inputs import AS_OF_OPS
from forecast_assets.defs.partitions import clients_partitions

from .backends import sql_rows
from .conftest import make_instance, make_settings

D2, D1, RETRO = "2026-10-31", "2026-10-17", "2026-10-24"
SERVED = (
    "select (select min(as_of) from analytics.fct_demand_forecast where client_id = 'shop_b'),"
    " (select max(as_of) from analytics.fct_demand_forecast where client_id = 'shop_b'),"
    " (select max(as_of) from analytics.fct_inventory_recommendations where client_id = 'shop_b'),"
    " (select max(classified_as_of) from analytics.dim_item where client_id = 'shop_b'),"
    " (select max(as_of) from analytics.fct_forecast_accuracy where client_id = 'shop_b')"
)


def test_a_fixed_origin_is_served_and_a_retrospective_run_does_not_displace_it(tmp_path, landing):
    settings = make_settings(tmp_path, chronos_model_id="amazon/chronos-2", global_model_enabled=False)
    instance = make_instance(settings.home)
    instance.add_dynamic_partitions(clients_partitions.name, ["shop_b"])

    def run(as_of: str, tags: dict[str, str] | None = None) -> None:
        result = materialize(
            build_assets(),
            partition_key="shop_b",
            resources=build_resource_defs(settings),
            instance=instance,
            run_config={"ops": {op: {"config": {"as_of": as_of}} for op in AS_OF_OPS}},
            tags=tags,
            raise_on_error=False,
        )
        assert result.success

    run(D2)
    assert sql_rows(settings.warehouse_url, SERVED) == [(dt.date.fromisoformat(D2),) * 5]
    run(D1)  # D2 was wrong: a normal run for the earlier D1 is served, D2's accuracy is not
    assert sql_rows(settings.warehouse_url, SERVED) == [(dt.date.fromisoformat(D1),) * 5]
    run(RETRO, {RETROSPECTIVE_TAG: "true"})  # later than D1, yet retrospective: nothing changes
    assert sql_rows(settings.warehouse_url, SERVED) == [(dt.date.fromisoformat(D1),) * 5]
    runs = sql_rows(
        settings.warehouse_url,
        "select as_of, retrospective from ml.forecast_runs where client_id = 'shop_b' order by evaluated_at",
    )
    assert [(str(a), r) for a, r in runs] == [(D2, False), (D1, False), (RETRO, True)]
