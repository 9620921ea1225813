"""The parameters of each stage of the flow, one resource per stage.

An asset declares only the stages whose parameters it reads, so a change to, say, the champion
margin touches the evaluation assets and nothing upstream. The fields carry no defaults:
:func:`forecast_assets.resources.build.build_resources` fills each one from the same-named
:class:`~forecast_assets.settings.Settings` field, the one place a default is written.
"""

from __future__ import annotations

from dagster import ConfigurableResource

from forecast_assets.core.evaluation.client import ChampionRule


class LandingParams(ConfigurableResource):
    """Where clients deliver their files (``landing_dir/<client>/...``) and how strictly a
    delivery is taken: file size limit, earliest date, and the share of the stored sales rows a
    delivery must keep to replace them without being told to (``accept_shrink``)."""

    landing_dir: str
    landing_max_file_mb: float
    earliest_date: str
    delivery_min_share: float


class ForecastingParams(ConfigurableResource):
    """What every model forecasts (horizon, quantiles) and from which origins (backtest windows).

    Read by the forecasting assets, by evaluation and inventory (which score and use those
    quantiles over that horizon) and by dbt (the calendar spans the horizon, with holidays).
    """

    horizon: int
    quantiles: list[float]
    min_history_days: int
    baseline_n_jobs: int
    baseline_history_days: int
    ray_address: str
    backtest_windows: int
    backtest_step_days: int
    backtest_retention_days: int
    holiday_country: str
    global_model_enabled: bool
    global_model_rounds: int
    global_model_conformal_windows: int
    global_model_history_days: int
    global_model_n_jobs: int
    global_model_slice_items: int
    global_model_calibration_days: int
    global_model_training: str
    ensemble_members: list[str]

    @property
    def quantile_levels(self) -> tuple[float, ...]:
        return tuple(self.quantiles)

    @property
    def backtest_retention(self) -> int | None:
        """Days of backtest history a forecast write keeps (``TableWrite.backtest_retention_days``);
        None keeps it all."""
        return self.backtest_retention_days or None


class EvaluationParams(ConfigurableResource):
    """How models are compared: the champion-challenger rule, drift windows, plots."""

    champion_metric: str
    champion_margin: float
    champion_scope: str
    drift_recent_days: int
    plot_top_items: int

    def champion_rule(self) -> ChampionRule:
        """The champion-challenger rule these settings describe."""
        return ChampionRule(self.champion_metric, self.champion_margin, self.champion_scope)


class InventoryParams(ConfigurableResource):
    """The stocking policy and item classes (``safety_stock_method``: sigma or quantile)."""

    service_level: float
    review_period_days: int
    safety_stock_method: str
    abc_cutoffs: list[float]
    xyz_cutoffs: list[float]
