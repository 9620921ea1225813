"""Resources chosen by configuration: one place turns :class:`Settings` into resource instances."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from dagster import ConfigurableResource, EnvVar

from forecast_assets.resources.chronos import ChronosModel
from forecast_assets.resources.params import (
    EvaluationParams,
    ForecastingParams,
    InventoryParams,
    LandingParams,
)
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


R = TypeVar("R", bound=ConfigurableResource)


def _config_value(value: Any) -> Any:
    """A settings value as resource config takes it: paths as text, tuples as lists."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def from_settings(resource: type[R], settings: Settings, prefix: str = "") -> R:
    """``resource`` with every field taken from the Settings field of the same name (after
    ``prefix``: ``ChronosModel.batch_size`` is ``chronos_batch_size``), so no default is copied
    into a resource, and a resource field without a setting fails at load instead of
    silently keeping a default of its own."""
    values = {}
    for name in resource.model_fields:
        attribute = prefix + name
        if not hasattr(settings, attribute):
            raise AttributeError(f"{resource.__name__}.{name}: Settings has no field {attribute!r}")
        values[name] = _config_value(getattr(settings, attribute))
    return resource(**values)


def build_resources(settings: Settings) -> dict[str, object]:
    return {
        "warehouse": Warehouse(url=_secret("WAREHOUSE_URL", settings.warehouse_url)),
        "chronos": from_settings(ChronosModel, settings, prefix="chronos_"),
        "mlflow_tracking": MlflowTracking(
            tracking_uri=_secret("MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri, sqlalchemy_url),
            artifact_root=settings.mlflow_artifact_location,
        ),
        "landing_params": from_settings(LandingParams, settings),
        "forecasting_params": from_settings(ForecastingParams, settings),
        "evaluation_params": from_settings(EvaluationParams, settings),
        "inventory_params": from_settings(InventoryParams, settings),
    }
