"""dbt wired with dagster-dbt: modelling (staging -> ts_demand_daily, covariate_calendar) and the
consumer marts, each built per client partition with the client passed as a dbt var."""

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AutomationCondition, BackfillPolicy
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from forecast_assets.core.clients import validate_client_key
from forecast_assets.defs.partitions import clients_partitions
from forecast_assets.resources.params import ForecastParams
from forecast_assets.resources.warehouse import Warehouse
from forecast_assets.settings import DBT_PROJECT_DIR, Settings
from forecast_assets.tenancy import resecure_if_enabled
from forecast_assets.urls import dbt_env


def dbt_executable() -> str:
    """The dbt installed beside this Python (a venv need not be on PATH), else ``dbt`` on PATH."""
    sibling = Path(sys.executable).parent / "dbt"
    return str(sibling) if sibling.exists() else "dbt"


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class ForecastDbtTranslator(DagsterDbtTranslator):
    """Model keys are bare model names (``ts_demand_daily``), matching the deps of the Python
    assets; sources map to the Python assets that write them (``meta.dagster.asset_key``); groups
    follow the folders (modelling, serving)."""

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
        runs with its landing files (landing sensor, schedule)."""
        if "serving" in dbt_resource_props.get("tags", []):
            return AutomationCondition.eager()
        return None


def _manifest_is_stale() -> bool:
    """No manifest yet, or a model, macro, test, seed or project file changed after it was written
    (a stale manifest would build yesterday's model list and miss new marts and their tests)."""
    if not dbt_project.manifest_path.exists():
        return True
    written = dbt_project.manifest_path.stat().st_mtime
    sources = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "tests", "seeds"):
        sources += [p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.is_file()]
    return any(p.stat().st_mtime > written for p in sources if p.exists())


if _manifest_is_stale():
    # A fresh clone has no manifest, an edited project an old one; parse so definitions load
    # anywhere (CI, tests, dev) with the current models.
    DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()).cli(
        ["parse", "--quiet"], target_path=dbt_project.target_path
    ).wait()

TRANSLATOR = ForecastDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def dbt_resource(settings: Settings) -> DbtCliResource:
    """The dbt CLI. Target and connection are not fixed here but set for each run from the
    warehouse resource the run writes to (:func:`_build`), so the two can never disagree."""
    del settings
    return DbtCliResource(
        project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable()
    )


def _build(context: AssetExecutionContext, dbt: DbtCliResource, params: ForecastParams, warehouse_url: str):
    client_id = validate_client_key(context.partition_key)
    # The dbt subprocess reads its target and connection from its environment (profiles.yml).
    os.environ.update(dbt_env(warehouse_url))
    dbt_vars = {"client_id": client_id, "horizon": params.horizon, "holiday_country": params.holiday_country}
    yield from dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context).stream()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    select="tag:modelling",
    partitions_def=clients_partitions,
    dagster_dbt_translator=TRANSLATOR,
    backfill_policy=BackfillPolicy.multi_run(1),
    name="dbt_modelling",
)
def dbt_modelling(
    context: AssetExecutionContext, dbt: DbtCliResource, params: ForecastParams, warehouse: Warehouse
):
    """Staging views, ``ts_demand_daily`` and ``covariate_calendar`` for one client."""
    yield from _build(context, dbt, params, warehouse.url)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    select="tag:serving",
    partitions_def=clients_partitions,
    dagster_dbt_translator=TRANSLATOR,
    backfill_policy=BackfillPolicy.multi_run(1),
    name="dbt_serving",
)
def dbt_serving(
    context: AssetExecutionContext, dbt: DbtCliResource, params: ForecastParams, warehouse: Warehouse
):
    """Consumer marts (the contract in CHANGELOG.md): fct_demand_forecast, fct_forecast_accuracy,
    fct_inventory_recommendations, dim_item.

    On Postgres with consumer roles set up (``forecast-assets grant-consumers``), row-level
    security and grants are re-applied after the build: a dbt full refresh re-creates the marts
    without them."""
    yield from _build(context, dbt, params, warehouse.url)
    if warehouse.backend == "postgres":
        secured = resecure_if_enabled(warehouse.url)
        if secured:
            context.log.info(f"consumer row-level security in place on {', '.join(secured)}")
