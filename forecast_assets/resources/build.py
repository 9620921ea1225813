"""Resources chosen by configuration: one place turns :class:`Settings` into resource instances."""

from __future__ import annotations

import os
from collections.abc import Callable

from dagster import EnvVar

from forecast_assets.resources.chronos import ChronosModel
from forecast_assets.resources.params import ForecastParams
from forecast_assets.resources.tracking import MlflowTracking
from forecast_assets.resources.warehouse import Warehouse
from forecast_assets.settings import Settings
from forecast_assets.urls import sqlalchemy_url


def _secret(name: str, value: str, normalize: Callable[[str], str] = str.strip) -> str | EnvVar:
    """``EnvVar(name)`` where ``value`` came from that variable, so the Dagster UI shows the
    variable's name instead of a URL carrying its password; the value itself otherwise (the
    embedded defaults, tests)."""
    raw = os.environ.get(name, "").strip()
    return EnvVar(name) if raw and raw == os.environ[name] and normalize(raw) == value else value


def build_resources(settings: Settings) -> dict[str, object]:
    from forecast_assets.defs.dbt import dbt_resource

    return {
        "warehouse": Warehouse(url=_secret("WAREHOUSE_URL", settings.warehouse_url)),
        "chronos": ChronosModel(
            model_id=settings.chronos_model_id,
            device=settings.chronos_device,
            dtype=settings.chronos_dtype,
            batch_size=settings.chronos_batch_size,
            context_length=settings.chronos_context_length,
            required=settings.chronos_required,
            cross_learning=settings.chronos_cross_learning,
            chunk_items=settings.chronos_chunk_items,
        ),
        "mlflow_tracking": MlflowTracking(
            tracking_uri=_secret("MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri, sqlalchemy_url),
            artifact_root=settings.mlflow_artifact_location,
        ),
        "params": ForecastParams(
            landing_dir=str(settings.landing_dir),
            horizon=settings.horizon,
            quantiles=list(settings.quantiles),
            service_level=settings.service_level,
            review_period_days=settings.review_period_days,
            safety_stock_method=settings.safety_stock_method,
            abc_cutoffs=list(settings.abc_cutoffs),
            xyz_cutoffs=list(settings.xyz_cutoffs),
            min_history_days=settings.min_history_days,
            baseline_n_jobs=settings.baseline_n_jobs,
            backtest_windows=settings.backtest_windows,
            backtest_step_days=settings.backtest_step_days,
            champion_metric=settings.champion_metric,
            champion_margin=settings.champion_margin,
            champion_scope=settings.champion_scope,
            drift_recent_days=settings.drift_recent_days,
            plot_top_items=settings.plot_top_items,
            holiday_country=settings.holiday_country,
        ),
        "dbt": dbt_resource(settings),
    }
