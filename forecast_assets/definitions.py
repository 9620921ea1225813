"""The one ``Definitions`` of the code location."""

from __future__ import annotations

from dagster import Definitions

from forecast_assets.defs.automation import daily_forecast_schedule, forecast_job
from forecast_assets.defs.dbt import dbt_modelling, dbt_serving
from forecast_assets.defs.evaluation import forecast_evaluation
from forecast_assets.defs.forecasting import baseline_forecast, chronos_forecast
from forecast_assets.defs.ingestion import raw_landing
from forecast_assets.defs.inventory import inventory_metrics
from forecast_assets.resources.build import build_resources
from forecast_assets.settings import Settings

ASSETS = [
    raw_landing,
    dbt_modelling,
    chronos_forecast,
    baseline_forecast,
    forecast_evaluation,
    inventory_metrics,
    dbt_serving,
]

defs = Definitions(
    assets=ASSETS,
    jobs=[forecast_job],
    schedules=[daily_forecast_schedule],
    resources=build_resources(Settings.from_env()),
)
