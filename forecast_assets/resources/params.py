"""Forecasting parameters shared by the assets (horizon, quantiles, service level, landing dir)."""

from __future__ import annotations

from dagster import ConfigurableResource

from forecast_assets.settings import DEFAULT_QUANTILES


class ForecastParams(ConfigurableResource):
    landing_dir: str
    horizon: int = 28
    quantiles: list[float] = list(DEFAULT_QUANTILES)  # noqa: RUF012 (pydantic copies defaults)
    service_level: float = 0.95
    review_period_days: int = 7
    min_history_days: int = 14
    holiday_country: str = "US"

    @property
    def quantile_levels(self) -> tuple[float, ...]:
        return tuple(self.quantiles)
