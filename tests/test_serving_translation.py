"""The serving marts and their candidates as Dagster assets: one ``dbt_serving`` multi-asset, the
candidates upstream of every mart, the dbt tests as checks on the candidates only."""

from dagster import AssetKey, AutomationCondition

from forecast_assets.defs.dbt.assets import build_dbt_assets

MARTS = ("fct_demand_forecast", "fct_forecast_accuracy", "fct_inventory_recommendations", "dim_item")


def test_candidates_are_serving_assets_upstream_of_every_mart_and_carry_the_checks():
    _, serving = build_dbt_assets()
    candidates = {AssetKey(f"{m}__candidate") for m in MARTS}
    assert {AssetKey(m) for m in MARTS} | candidates == set(serving.keys)
    for key in serving.keys:
        assert serving.specs_by_key[key].group_name == "serving"
        assert isinstance(serving.specs_by_key[key].automation_condition, AutomationCondition)
    for mart in MARTS:
        assert candidates <= set(serving.asset_deps[AssetKey(mart)])
    checked = {check.asset_key for check in serving.check_keys}
    assert checked == candidates  # consumers' rows are tested before they are served
    assert AssetKey("forecast_evaluation") in {
        dep for m in MARTS for dep in serving.asset_deps[AssetKey(f"{m}__candidate")]
    }
