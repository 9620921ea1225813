"""A global gradient-boosted model per client: one LightGBM over all items, with covariates.

Why: the statistical baselines fit each item alone and see no covariate, while the client tells
us prices, promotions, holidays and its own events. A model trained over all of a client's items
(mlforecast + LightGBM, the approach that won M5) learns those effects from every item at once.

What it sees, per item and day, forecasting from a cutoff:

- lags of demand (7, 14, 21, 28 days), rolling and exponentially weighted means, built by
  mlforecast. Prediction is
  recursive: beyond the cutoff a lag reads the model's own earlier predictions, never an actual,
  so no value after the cutoff reaches a feature;
- calendar features (weekday, month, day of month) and the known-future covariates of the
  Chronos path, from the same :func:`~forecast_assets.core.forecasting.chronos_frames.build_frames`
  (promotion flag and discount, holiday, days to holiday, weekend, planned price as known at the
  cutoff, the client's events);
- the item's category as a static feature.

A Tweedie objective suits counts with many zeros. Stock-out days are missing demand: their target
is imputed for the lag features (:func:`~forecast_assets.core.forecasting.baselines.impute_stockouts`,
from earlier in-stock days only) and they get sample weight 0, so the model never learns an empty
shelf as zero demand. Quantiles come from mlforecast's conformal intervals (the model's errors on
``conformal_windows`` holdout windows before the cutoff), then are clipped and sorted like every
other model's (:func:`~forecast_assets.core.forecasting.frame.finalize_forecast`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from forecast_assets.core.forecasting.baselines import impute_stockouts, levels_for, quantile_frame
from forecast_assets.core.forecasting.chronos_frames import build_frames
from forecast_assets.core.forecasting.chronos_stream import forecast_rows
from forecast_assets.core.forecasting.frame import finalize_forecast

MODEL_NAME = "lightgbm"
# No lag shorter than a week: on M5 (docs/accuracy.md) a lag-1 model, fed its own predictions
# recursively over 28 days, was 2-3% worse on WAPE than one whose shortest lag is 7 days.
LAGS = (7, 14, 21, 28)
DATE_FEATURES = ("dayofweek", "month", "day")
STATIC = "category"
# Days of training an item needs before its conformal holdout windows. Rows whose lags reach
# before the item's first day are kept with missing features (LightGBM routes them natively), so
# a short item still trains.
MIN_TRAIN = max(LAGS)


@dataclass(frozen=True)
class GlobalModelConfig:
    """The knobs of the global model (Settings ``GLOBAL_MODEL_*``; small values in tests)."""

    rounds: int = 300
    learning_rate: float = 0.05
    num_leaves: int = 63
    tweedie_power: float = 1.2
    conformal_windows: int = 4
    history_days: int = 730
    n_jobs: int = 1
    seed: int = 0


@dataclass
class GlobalResult:
    """Rows of every origin, the live origin's feature importance and the cost of the fits."""

    rows: pd.DataFrame
    importance: pd.DataFrame  # feature, gain (the live origin's model)
    excluded: dict[str, str] = field(default_factory=dict)  # item_id -> why (live origin)
    fit_seconds: float = 0.0
    predict_seconds: float = 0.0
    series_fit: int = 0  # item fits summed over origins (items x origins)
    fingerprints: dict[pd.Timestamp, str] = field(default_factory=dict)  # cutoff -> its inputs' hash
    reused: list[pd.Timestamp] = field(default_factory=list)  # backtest cutoffs left to stored rows


def _lag_transforms() -> dict[int, list]:
    from mlforecast.lag_transforms import ExponentiallyWeightedMean, RollingMean, SeasonalRollingMean

    return {
        7: [
            RollingMean(window_size=7),
            RollingMean(window_size=28),
            SeasonalRollingMean(season_length=7, window_size=4),
            ExponentiallyWeightedMean(alpha=0.1),
        ],
        28: [RollingMean(window_size=28)],
    }


def training_frames(
    demand: pd.DataFrame,
    calendar: pd.DataFrame,
    cutoff: pd.Timestamp,
    horizon: int,
    *,
    client_id: str,
    events: pd.DataFrame | None = None,
    categories: pd.Series | None = None,
    history_days: int | None = None,
    min_history: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str], dict[str, str]]:
    """(training frame, future covariate frame, dynamic feature names, excluded items) for ``cutoff``.

    The training frame has unique_id, ds, y (stock-outs imputed from earlier in-stock days),
    weight (0 on stock-out days), the category and the known-future covariates; the future frame
    the same covariates for the ``horizon`` days after the cutoff. Only rows up to the cutoff
    reach the training frame (``build_frames`` checks it).
    """
    cutoff = pd.Timestamp(cutoff)
    frames = build_frames(
        demand,
        calendar,
        cutoff,
        horizon,
        client_id=client_id,
        events=events,
        context_length=history_days,
        min_history=min_history,
    )
    covariates = list(frames.future_covariates)
    history = demand[(demand["date"] <= cutoff) & demand["item_id"].isin(frames.items)]
    imputed = impute_stockouts(history)[["item_id", "date", "units_sold"]]
    train = frames.context.merge(imputed, on=["item_id", "date"], how="left")
    train["weight"] = np.where(train["target"].isna(), 0.0, 1.0)
    train["y"] = train["units_sold"].astype(float).fillna(0.0)
    future = frames.future.copy()
    cats = categories if categories is not None else pd.Series(dtype=object)
    for frame in (train, future):
        frame[STATIC] = frame["item_id"].map(cats).fillna("unknown").astype(str)
    keep = ["item_id", "date", "y", "weight", STATIC, *covariates]
    train = train[keep].rename(columns={"item_id": "unique_id", "date": "ds"})
    future = future[["item_id", "date", *covariates]].rename(columns={"item_id": "unique_id", "date": "ds"})
    return train, future, covariates, frames.excluded


def _category_codes(train: pd.DataFrame) -> pd.DataFrame:
    """Category as a pandas categorical (LightGBM splits it natively), stable across origins."""
    out = train.copy()
    out[STATIC] = pd.Categorical(out[STATIC], categories=sorted(out[STATIC].unique()))
    return out


def _model(config: GlobalModelConfig):
    import lightgbm as lgb

    return lgb.LGBMRegressor(
        objective="tweedie",
        tweedie_variance_power=config.tweedie_power,
        n_estimators=config.rounds,
        learning_rate=config.learning_rate,
        num_leaves=config.num_leaves,
        min_child_samples=20,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        n_jobs=config.n_jobs,
        random_state=config.seed,
        verbose=-1,
    )


def fit_predict(
    train: pd.DataFrame,
    future: pd.DataFrame,
    horizon: int,
    quantiles: tuple[float, ...],
    config: GlobalModelConfig,
) -> tuple[pd.DataFrame, pd.DataFrame, float, float]:
    """Fit on ``train`` and forecast ``horizon`` days with ``future``'s covariates.

    Returns (item_id, date, point, quantile columns), feature importance (gain), and the fit and
    predict seconds. Conformal quantiles need ``conformal_windows * horizon`` days after
    ``MIN_TRAIN`` days; with fewer the windows shrink to what the history allows (mlforecast's
    minimum is two).
    """
    from mlforecast import MLForecast
    from mlforecast.utils import PredictionIntervals

    mlf = MLForecast(
        models={MODEL_NAME: _model(config)},
        freq="D",
        lags=list(LAGS),
        lag_transforms=_lag_transforms(),
        date_features=list(DATE_FEATURES),
        num_threads=1,
    )
    shortest = int(train.groupby("unique_id").size().min())
    windows = max(2, min(config.conformal_windows, (shortest - MIN_TRAIN) // horizon))
    started = time.perf_counter()
    mlf.fit(
        _category_codes(train),
        static_features=[STATIC],
        dropna=False,
        weight_col="weight",
        prediction_intervals=PredictionIntervals(n_windows=windows, h=horizon),
    )
    fitted = time.perf_counter()
    levels = levels_for(quantiles)
    raw = mlf.predict(horizon, X_df=future, level=levels)
    predicted = time.perf_counter()
    out = quantile_frame(raw, MODEL_NAME, quantiles)
    booster = mlf.models_[MODEL_NAME].booster_
    importance = pd.DataFrame(
        {"feature": booster.feature_name(), "gain": booster.feature_importance(importance_type="gain")}
    ).sort_values("gain", ascending=False, ignore_index=True)
    return out, importance, fitted - started, predicted - fitted


def forecast_global_from_origins(
    demand: pd.DataFrame,
    calendar: pd.DataFrame,
    origins: Sequence[tuple[str, pd.Timestamp]],
    as_of: pd.Timestamp,
    horizon: int,
    quantiles: tuple[float, ...],
    config: GlobalModelConfig,
    *,
    client_id: str,
    events: pd.DataFrame | None = None,
    categories: pd.Series | None = None,
    min_history_days: int = 14,
    run_id: str | None = None,
    reusable: Callable[[str, pd.Timestamp, str], bool] | None = None,
) -> GlobalResult:
    """The global model from every ``(kind, cutoff)`` origin, as ``ml.global_forecast`` rows.

    One model is trained per origin on data up to that origin only, so a backtest is the model
    as it would have been at the cutoff. Items with fewer than ``max(min_history_days, 2 *
    horizon + MIN_TRAIN)`` observed days are left to the other models (a lagged model with two
    conformal windows needs that much), and listed in ``excluded``.

    Each origin's training and future frames are fingerprinted with the model's specification
    (``result.fingerprints``); when ``reusable(kind, cutoff, fingerprint)`` says a stored forecast
    was made from the same inputs, the origin is not fitted and its cutoff is listed in
    ``result.reused`` (core/forecasting/reuse.py).
    """
    from forecast_assets.core.forecasting.reuse import frames_fingerprint

    min_history = max(min_history_days, 2 * horizon + MIN_TRAIN)
    spec = global_spec(config, horizon, quantiles, min_history)
    parts, importance, excluded = [], pd.DataFrame(columns=["feature", "gain"]), {}
    result = GlobalResult(rows=pd.DataFrame(), importance=importance)
    for kind, cutoff in origins:
        train, future, _, dropped = training_frames(
            demand,
            calendar,
            cutoff,
            horizon,
            client_id=client_id,
            events=events,
            categories=categories,
            history_days=config.history_days,
            min_history=min_history,
        )
        if kind == "forecast":
            excluded = dropped
        fingerprint = frames_fingerprint([train, future], spec)
        result.fingerprints[pd.Timestamp(cutoff)] = fingerprint
        if reusable is not None and reusable(kind, pd.Timestamp(cutoff), fingerprint):
            result.reused.append(pd.Timestamp(cutoff))
            continue
        if train.empty:
            continue
        forecast, gain, fit_s, predict_s = fit_predict(train, future, horizon, quantiles, config)
        result.fit_seconds += fit_s
        result.predict_seconds += predict_s
        result.series_fit += train["unique_id"].nunique()
        if kind == "forecast":
            importance = gain
        finalized = finalize_forecast(forecast, MODEL_NAME, quantiles, cutoff)
        rows = forecast_rows(finalized, as_of, kind, cutoff, f"mlforecast/{MODEL_NAME}", run_id)
        parts.append(rows)
    result.rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    result.importance = importance
    result.excluded = excluded
    return result


def global_spec(
    config: GlobalModelConfig, horizon: int, quantiles: tuple[float, ...], min_history: int
) -> dict[str, object]:
    """What, besides its input frames, decides the global model's forecast (the fingerprint's
    specification): its parameters (thread count included: LightGBM's sums may differ with it),
    the libraries' versions and the code that builds its features."""
    import sys
    from importlib.metadata import version

    from forecast_assets.core.forecasting import chronos_frames, frame
    from forecast_assets.core.forecasting.reuse import code_digest

    return {
        **asdict(config),
        "horizon": horizon,
        "quantiles": quantiles,
        "min_history": min_history,
        "mlforecast": version("mlforecast"),
        "lightgbm": version("lightgbm"),
        "code": code_digest(sys.modules[__name__], chronos_frames, frame),
    }


def config_params(config: GlobalModelConfig) -> dict[str, object]:
    """The model's parameters as MLflow params (the features and the objective included)."""
    return {
        "model": MODEL_NAME,
        "objective": f"tweedie(p={config.tweedie_power})",
        "rounds": config.rounds,
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "conformal_windows": config.conformal_windows,
        "history_days": config.history_days,
        "lags": ",".join(map(str, LAGS)),
        "date_features": ",".join(DATE_FEATURES),
        "static_features": STATIC,
    }


def cost_metrics(result: GlobalResult) -> dict[str, float]:
    """Training and prediction cost: seconds and series per second (summed over origins)."""

    def per(seconds: float) -> float:
        return result.series_fit / seconds if seconds > 0 else 0.0

    return {
        "fit_seconds": result.fit_seconds,
        "predict_seconds": result.predict_seconds,
        "fit_series_per_second": per(result.fit_seconds),
        "predict_series_per_second": per(result.predict_seconds),
    }
