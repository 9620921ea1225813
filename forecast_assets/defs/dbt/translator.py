"""How dbt nodes become Dagster assets: keys, groups, automation."""

from collections.abc import Mapping
from typing import Any

from dagster import AssetKey, AutomationCondition
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings


class ForecastDbtTranslator(DagsterDbtTranslator):
    """Model keys are bare model names (``ts_demand_daily``), matching the deps of the Python
    assets; sources map to the Python assets that write them (``meta.dagster.asset_key``); groups
    follow the tags (modelling, serving). The serving group holds each consumer mart and its
    candidate (``<mart>__candidate``, schema analytics_candidates, carrying the dbt tests): both
    are built by ``dbt_serving`` in one ``dbt build``, the candidates and their tests first."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return AssetKey(dbt_resource_props["name"])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        tags = dbt_resource_props.get("tags", [])
        return "serving" if "serving" in tags else "modelling"

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> AutomationCondition | None:
        """Consumer marts are eager: when a client's forecasts (or any other input) update outside
        a run that also built the marts, the automation sensor rebuilds that client's marts, once
        every input is present and none is still being written. Modelling has no condition: it
        runs with its landing files (landing sensor, schedule). The candidates are eager too:
        a mart waits while a parent is missing, and both are requested in the same tick, so
        they run in one build."""
        if "serving" in dbt_resource_props.get("tags", []):
            return AutomationCondition.eager()
        return None


# dbt tests become asset checks.
TRANSLATOR = ForecastDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))
