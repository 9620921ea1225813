"""The one ``Definitions`` of the code location."""

from __future__ import annotations

from dagster import BackfillPolicy, Definitions

from forecast_assets.defs.automation import automation_sensor, build_daily_schedule, forecast_job
from forecast_assets.defs.dbt import dbt_modelling, dbt_serving
from forecast_assets.defs.evaluation import forecast_evaluation
from forecast_assets.defs.executors import run_executor
from forecast_assets.defs.forecasting import baseline_forecast, chronos_forecast
from forecast_assets.defs.freshness import build_forecast_freshness_check
from forecast_assets.defs.ingestion import raw_landing
from forecast_assets.defs.inventory import inventory_metrics
from forecast_assets.defs.sensors import build_failure_sensor, build_landing_sensor
from forecast_assets.resources.build import build_resources
from forecast_assets.settings import Settings

# One backfill policy across the graph (the dbt assets also declare it themselves): an asset
# backfill runs an asset together with its parents only when their policies match, so with one
# policy a backfill of N clients is N runs of the whole graph, not a run per layer and client.
ONE_CLIENT_PER_RUN = BackfillPolicy.multi_run(1)

ASSETS = [
    asset.with_attributes(backfill_policy=ONE_CLIENT_PER_RUN)
    for asset in (
        raw_landing,
        dbt_modelling,
        chronos_forecast,
        baseline_forecast,
        forecast_evaluation,
        inventory_metrics,
        dbt_serving,
    )
]

SETTINGS = Settings.from_env()
daily_forecast_schedule = build_daily_schedule(SETTINGS)

defs = Definitions(
    assets=ASSETS,
    asset_checks=[build_forecast_freshness_check(SETTINGS)],
    jobs=[forecast_job],
    schedules=[daily_forecast_schedule],
    sensors=[build_landing_sensor(SETTINGS), build_failure_sensor(SETTINGS), automation_sensor],
    resources=build_resources(SETTINGS),
    # Runs launched from the asset graph (the implicit asset job, backfills included) run their
    # steps like forecast_client: in one process on DuckDB (the file admits one writing process),
    # in a pod per step on Kubernetes (FORECAST_EXECUTOR=k8s, defs/executors.py).
    executor=run_executor(SETTINGS),
)
