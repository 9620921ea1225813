"""Forecasting parameters shared by the assets (horizon, quantiles, service level, landing dir)."""

from __future__ import annotations

from dagster import ConfigurableResource

from forecast_assets.core.forecasting.frame import DEFAULT_QUANTILES


class ForecastParams(ConfigurableResource):
    landing_dir: str
    horizon: int = 28
    quantiles: list[float] = list(DEFAULT_QUANTILES)  # noqa: RUF012 (pydantic copies defaults)
    service_level: float = 0.95
    review_period_days: int = 7
    safety_stock_method: str = "sigma"  # "sigma" (backtest errors) or "quantile" (forecast quantiles)
    abc_cutoffs: list[float] = [0.8, 0.95]  # noqa: RUF012 (cumulative revenue shares: A, B)
    xyz_cutoffs: list[float] = [0.5, 1.0]  # noqa: RUF012 (weekly demand CV: X, Y)
    min_history_days: int = 14
    baseline_n_jobs: int = 1
    backtest_windows: int = 3
    backtest_step_days: int = 7
    champion_metric: str = "mae"
    champion_margin: float = 0.05
    champion_scope: str = "client"
    drift_recent_days: int = 28
    plot_top_items: int = 6
    holiday_country: str = "US"

    @property
    def quantile_levels(self) -> tuple[float, ...]:
        return tuple(self.quantiles)
