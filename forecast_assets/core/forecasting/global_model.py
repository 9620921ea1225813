"""Global gradient-boosted models per client: LightGBM over all items, with covariates.

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
- where the item's price stands against its own history up to the cutoff (price over its mean
  and its maximum, the change over 7 days); the days after the cutoff carry the last price seen
  at it;
- the item's category, and its level, share of zero days and variability over the last year
  before the cutoff, as static features.

Two members are fitted on the same features (:data:`MODELS`): ``lightgbm`` with a Tweedie
objective, which suits counts with many zeros, and ``lightgbm_log``, least squares on
``log1p(demand)``, whose errors are relative rather than absolute. On M5 their mean with AutoETS
and AutoTheta beat every single model and every ensemble with one LightGBM (docs/accuracy.md):
the two objectives err differently, which is what an average needs.

Stock-out days are missing demand: their target is imputed for the lag features
(:func:`~forecast_assets.core.forecasting.baselines.impute_stockouts`, from earlier in-stock days
only) and they get sample weight 0, so the model never learns an empty shelf as zero demand.
Quantiles come from mlforecast's conformal intervals (the model's errors on ``conformal_windows``
holdout windows before the cutoff), then are clipped and sorted like every other model's
(:func:`~forecast_assets.core.forecasting.frame.finalize_forecast`).

Training is the step's cost: each member is fitted for the forecast and again for the calibration
(on the data before the first holdout window, which then forecasts every window). What the trees
learn moves slowly, so the calibration is made on a weekly grid (:func:`calibration_date`):
an origin is calibrated on its slice's data up to the last grid day before it. With
``GLOBAL_MODEL_TRAINING=grid`` (:data:`TRAINING`) the members are trained on that data too, and
forecast from the origin with features (lags, prices, covariates) built from the data up to the
origin, as mlforecast forecasts from a fitted model with newer data. The members (LightGBM's text
model format: data, not code, unlike a pickle) and their errors are a pure function of that day's
data, so a run stores them (``ml.global_calibration`` and ``ml.global_members``, by the
fingerprint of the frame they came from) and later runs with the same frame read them back
(``calibration_lookup``): in a daily schedule, one run a week calibrates (the day after a grid
day), and with ``grid`` training the others only build features and predict.
``GLOBAL_MODEL_CALIBRATION_DAYS=1`` trains and calibrates at every origin.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from forecast_assets.core.forecasting.baselines import (
    impute_stockouts,
    item_slices,
    levels_for,
    quantile_frame,
)
from forecast_assets.core.forecasting.chronos_frames import build_frames
from forecast_assets.core.forecasting.chronos_stream import forecast_rows
from forecast_assets.core.forecasting.frame import finalize_forecast
from forecast_assets.core.running.progress import progress_line

# Member name -> its objective: ``tweedie`` on units, or ``log1p`` (least squares on log1p(units)).
MODELS = {"lightgbm": "tweedie", "lightgbm_log": "log1p"}
# No lag shorter than a week: on M5 (docs/accuracy.md) a lag-1 model, fed its own predictions
# recursively over 28 days, was 2-3% worse on WAPE than one whose shortest lag is 7 days.
LAGS = (7, 14, 21, 28)
DATE_FEATURES = ("dayofweek", "month", "day")
STATIC = "category"
PRICE_FEATURES = ("price_to_mean", "price_to_max", "price_change_7")
# Each item's demand over the last STATS_DAYS before the cutoff (in-stock days), constant per item.
ITEM_STATS = ("level_365", "zero_share_365", "cv_365")
STATS_DAYS = 365
# Days of training an item needs before its conformal holdout windows. Rows whose lags reach
# before the item's first day are kept with missing features (LightGBM routes them natively), so
# a short item still trains.
MIN_TRAIN = max(LAGS)
# Items per fit (Settings ``GLOBAL_MODEL_SLICE_ITEMS``): about one M5 store (3,049 items), the
# unit M5's winners trained on. A larger client is fitted slice by slice (:func:`slices_of`).
SLICE_ITEMS = 3000
# LightGBM threads per fit (Settings ``GLOBAL_MODEL_N_JOBS``); -1: every core. On 150 M5 items two
# threads took 0.78 of one thread's time (docs/benchmarks.md).
N_JOBS = -1
# Days between conformal calibrations (Settings ``GLOBAL_MODEL_CALIBRATION_DAYS``; 1: at every
# origin). The grid is counted from CALIBRATION_EPOCH, so every run agrees on it.
CALIBRATION_DAYS = 7
CALIBRATION_EPOCH = pd.Timestamp("2000-01-02")
# Where the members are trained (Settings ``GLOBAL_MODEL_TRAINING``): ``origin``, on the data up to
# each origin; ``grid``, on the data up to its calibration day, stored and read back by the week's
# later runs, which then only build features and predict. On M5 (150 items, a week of daily
# origins, docs/benchmarks.md) ``grid`` took 0.25 of the step's time trained and calibrated every
# day, ``origin`` with the weekly calibration 0.51; but ``grid`` cost 0.6-0.9% WAPE and 1.1-1.5%
# WQL on the members, where the rule is no worse accuracy, so it is for clients that
# would not otherwise fit their nightly window.
TRAININGS = ("origin", "grid")
TRAINING = "origin"
# Calendar columns a backtest does not see as the live forecast of its day saw them, so they are
# left out of an origin's fingerprint (:func:`origin_fingerprints`): ``is_future`` turns 0 as the
# days are delivered, and the live forecast plans with the products' list price of its day, which
# a backtest re-bases on the prices its history shows (chronos_frames.plan_known_at).
PLANNED_AT_CUTOFF = ("planned_price", "is_future")


@dataclass(frozen=True)
class GlobalModelConfig:
    """The knobs of the global model (Settings ``GLOBAL_MODEL_*``; small values in tests)."""

    rounds: int = 300
    learning_rate: float = 0.05
    num_leaves: int = 63
    tweedie_power: float = 1.5
    conformal_windows: int = 8
    history_days: int = 730
    n_jobs: int = N_JOBS
    slice_items: int = SLICE_ITEMS
    calibration_days: int = CALIBRATION_DAYS
    training: str = TRAINING
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
    config: GlobalModelConfig | None = None  # what the fits used (on Ray: ray_threads threads)
    calibration_seconds: float = 0.0  # conformal calibrations computed (their cross-validation fits)
    calibrations: list[Calibration] = field(default_factory=list)  # the live origin's, per slice

    @property
    def calibrations_reused(self) -> int:
        """The live origin's slices whose calibration was read back, not fitted."""
        return sum(c.reused for c in self.calibrations)


def slices_of(items: Sequence[str], categories: pd.Series | None, size: int) -> list[list[str]]:
    """``items`` in ``ceil(n / size)`` slices of near-equal size, each a run of items sorted by
    (category, item id), so a slice holds related items and one fit never holds the whole client.

    Why slices: the feature matrix of a client grows with items x days (30,000 items x 730 days
    is 22 million rows of some 35 features, over 6 GB in float64), and LightGBM's cost per round
    grows with it. Fitted per slice, memory is bounded by a slice and cost grows linearly with
    the client; a slice of a few thousand items still pools plenty of series for the trees.
    """
    if size < 1:
        raise ValueError(f"slice size must be at least 1, got {size}")
    return item_slices(items, -(-len(items) // size), categories) if len(items) else []


@dataclass(frozen=True)
class ClientFrames:
    """A client's items, and ``read(items) -> (demand, calendar)`` for a slice of them.

    Why a reader and not the frames: a 30,490-item client's demand and calendar over two years
    are 45 million rows, 12.5 GB in pandas (``benchmarks/fingerprint_cost.py``), beyond the
    step's memory bar before any fit. The asset reads each slice from the warehouse when it is
    fingerprinted and again when it is fitted, so the step holds one slice; :meth:`of` serves
    slices of frames already in memory (tests, benchmarks).
    """

    items: list[str]
    read: Callable[[list[str]], tuple[pd.DataFrame, pd.DataFrame]]

    @classmethod
    def of(cls, demand: pd.DataFrame, calendar: pd.DataFrame) -> ClientFrames:
        items = sorted(demand["item_id"].astype(str).unique())
        return cls(items, lambda some: (_of_items(demand, some), _of_items(calendar, some)))


def calibration_date(cutoff: pd.Timestamp, every_days: int = CALIBRATION_DAYS) -> pd.Timestamp:
    """The day up to which an origin's conformal errors are measured: the last day of the grid
    (every ``every_days`` days from :data:`CALIBRATION_EPOCH`) strictly before ``cutoff``; with
    ``every_days=1`` the cutoff itself (calibrated at every origin).

    Why strictly before: a run only stores a calibration that the week's later runs can find, and
    they see a grid day as past (``build_frames`` re-bases planned prices of days observed after
    a cutoff), which the grid day's own run cannot. So the grid day's run reads the previous
    week's calibration and the next day's run makes the one the rest of the week reads back:
    one calibration a week, from data one to seven days old.
    """
    if every_days < 1:
        raise ValueError(f"calibration every {every_days} days: must be at least 1")
    cutoff = pd.Timestamp(cutoff)
    if every_days == 1:
        return cutoff
    return cutoff - pd.Timedelta(days=(cutoff - CALIBRATION_EPOCH).days % every_days or every_days)


@dataclass
class Calibration:
    """One slice's model at a grid day: its conformal errors and, with ``grid`` training
    (:data:`TRAINING`), the members trained on that day's data. ``scores`` has unique_id, ds, cutoff (of
    the holdout window) and one absolute-error column per member of :data:`MODELS`, as mlforecast
    computes them; ``members`` maps each member to its booster in LightGBM's text format."""

    calibrated_at: pd.Timestamp  # the last day of the data they were measured on
    fingerprint: str  # of that data's training frame and the model's specification
    scores: pd.DataFrame
    reused: bool = False  # read back from an earlier run, not fitted
    members: dict[str, str] = field(default_factory=dict)  # empty: trained at the origin


def member_rows(calibration: Calibration) -> pd.DataFrame:
    """A calibration's members as ``ml.global_members`` rows: one per member (none if trained at
    the origin)."""
    return pd.DataFrame(
        {
            "model": list(calibration.members),
            "booster": list(calibration.members.values()),
            "calibrated_at": calibration.calibrated_at,
            "fingerprint": calibration.fingerprint,
        },
        columns=["model", "booster", "calibrated_at", "fingerprint"],
    )


def stored_members(rows: pd.DataFrame) -> dict[str, str]:
    """``ml.global_members`` rows of one calibration back as member -> booster text.

    Strict, like :func:`calibration_scores`: a member stored twice, one missing, or a booster
    LightGBM cannot read is an error naming the fingerprint. No rows: no members stored (that
    calibration was made at its origin), so the caller trains them.
    """
    import lightgbm as lgb

    if rows.empty:
        return {}
    fingerprint = rows["fingerprint"].iloc[0]
    problem = ""
    if rows["model"].duplicated().any():
        problem = "a member is stored twice"
    elif set(rows["model"]) != set(MODELS):
        problem = f"members {sorted(set(rows['model']))}, expected {sorted(MODELS)}"
    else:
        for name, text in zip(rows["model"], rows["booster"], strict=True):
            try:
                lgb.Booster(model_str=text)
            except Exception as unreadable:  # LightGBM raises its own error, or a TypeError on None
                problem = f"the booster of {name} cannot be read ({type(unreadable).__name__})"
                break
    if problem:
        raise ValueError(f"{len(rows)} stored member rows of fingerprint {fingerprint}: {problem}")
    return dict(zip(rows["model"], rows["booster"], strict=True))


CALIBRATION_KEYS = ["unique_id", "cutoff", "ds"]


def calibration_rows(calibration: Calibration) -> pd.DataFrame:
    """A calibration as ``ml.global_calibration`` rows: one per member, item, window and day."""
    names = {"unique_id": "item_id", "ds": "date", "cutoff": "window_cutoff"}
    scores = calibration.scores.rename(columns=names)
    long = scores.melt(id_vars=["item_id", "window_cutoff", "date"], value_vars=list(MODELS),
                       var_name="model", value_name="score")  # fmt: skip
    return long.assign(calibrated_at=calibration.calibrated_at, fingerprint=calibration.fingerprint)


def calibration_scores(rows: pd.DataFrame) -> pd.DataFrame:
    """``ml.global_calibration`` rows of one calibration back as mlforecast's scores frame.

    Strict, because mlforecast reshapes the scores by item without checking them: a key stored
    twice, a member or a score missing, or an item without every window's days is an error that
    names the fingerprint, not intervals quietly built from the wrong errors.
    """
    fingerprint = rows["fingerprint"].iloc[0] if len(rows) else "?"
    problem = ""
    keys = ["item_id", "window_cutoff", "date"]
    if rows.duplicated([*keys, "model"]).any():
        problem = "a score is stored twice"
    elif set(rows["model"]) != set(MODELS):
        problem = f"members {sorted(set(rows['model']))}, expected {sorted(MODELS)}"
    else:
        wide = rows.pivot(index=keys, columns="model", values="score").reset_index()
        days = rows[["window_cutoff", "date"]].drop_duplicates()
        if wide[list(MODELS)].isna().any().any():
            problem = "a score is missing"
        elif len(wide) != rows["item_id"].nunique() * len(days):
            problem = "an item lacks some of the windows' days"
    if problem:
        raise ValueError(f"{len(rows)} stored calibration rows of fingerprint {fingerprint}: {problem}")
    wide.columns.name = None
    scores = wide.rename(columns={"item_id": "unique_id", "date": "ds", "window_cutoff": "cutoff"})
    for column in ("ds", "cutoff"):
        scores[column] = pd.to_datetime(scores[column])
    return scores[[*CALIBRATION_KEYS, *MODELS]]


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
    keep = ["item_id", "date", "y", "weight", "price", STATIC, *covariates]
    train = train[keep].rename(columns={"item_id": "unique_id", "date": "ds"})
    future = future[["item_id", "date", *covariates]].rename(columns={"item_id": "unique_id", "date": "ds"})
    train, future = price_features(train, future)
    train = item_stats(train)
    return train, future, [*covariates, *PRICE_FEATURES], frames.excluded


def price_features(train: pd.DataFrame, future: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``train`` and ``future`` with :data:`PRICE_FEATURES` in place of the raw ``price``.

    Why relative prices: a price cut lifts demand against the item's usual level, and the model
    pools items of every price, so the signal is the price against the item's own mean and
    maximum (up to the cutoff), and its change over a week. A day without a price carries the
    item's last known one; the horizon carries the last price at the cutoff (a future price is
    not known; promotions reach the model through ``promo_*`` and ``planned_price``).
    """
    ids = train["unique_id"]
    price = train.groupby(ids, sort=False)["price"].ffill()
    price = price.groupby(ids, sort=False).bfill()
    by_item = price.groupby(ids, sort=False)
    mean, top, last = by_item.mean(), by_item.max(), by_item.last()
    both = pd.concat(
        [
            pd.DataFrame({"unique_id": ids, "ds": train["ds"], "price": price.to_numpy()}),
            pd.DataFrame({"unique_id": future["unique_id"], "ds": future["ds"],
                          "price": future["unique_id"].map(last).to_numpy()}),
        ],
        ignore_index=True,
    ).sort_values(["unique_id", "ds"], kind="stable")  # fmt: skip
    week_ago = both.groupby("unique_id", sort=False)["price"].shift(7)
    both["price_to_mean"] = both["price"] / both["unique_id"].map(mean)
    both["price_to_max"] = both["price"] / both["unique_id"].map(top)
    both["price_change_7"] = both["price"] / week_ago - 1.0
    features = both.set_index(["unique_id", "ds"])[list(PRICE_FEATURES)]

    def joined(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.drop(columns="price", errors="ignore")
        return out.join(features, on=["unique_id", "ds"])

    return joined(train), joined(future)


def item_stats(train: pd.DataFrame) -> pd.DataFrame:
    """``train`` with :data:`ITEM_STATS`: each item's mean, share of zero days and coefficient of
    variation over its last :data:`STATS_DAYS` in-stock days before the cutoff.

    Why: lags say where an item is this week; these say what kind of item it is (a steady seller,
    a slow mover), which the trees can split on, as M5's winners did with item-level aggregates.
    """
    last = train.groupby("unique_id", sort=False)["ds"].transform("max")
    recent = train[(train["ds"] > last - pd.Timedelta(days=STATS_DAYS)) & (train["weight"] > 0)]
    y = recent.groupby("unique_id", sort=False)["y"]
    level = y.mean()
    stats = pd.DataFrame(
        {
            "level_365": level,
            "zero_share_365": recent["y"].eq(0).groupby(recent["unique_id"], sort=False).mean(),
            "cv_365": (y.std() / level).where(level > 0),
        }
    )
    return train.join(stats, on="unique_id")


def _category_codes(train: pd.DataFrame) -> pd.DataFrame:
    """Category as a pandas categorical (LightGBM splits it natively), stable across origins."""
    out = train.copy()
    out[STATIC] = pd.Categorical(out[STATIC], categories=sorted(out[STATIC].unique()))
    return out


def _forecaster(config: GlobalModelConfig, name: str):
    """The mlforecast of one member. ``log1p`` transforms the whole series (mlforecast's
    ``GlobalSklearnTransformer``): its lags and rolling means are of log demand too, and its
    forecast is transformed back before it is scored or stored."""
    from mlforecast import MLForecast
    from mlforecast.target_transforms import GlobalSklearnTransformer
    from sklearn.preprocessing import FunctionTransformer

    if MODELS[name] == "log1p":
        model = _lgbm(config, objective="regression")
        transforms = [GlobalSklearnTransformer(FunctionTransformer(np.log1p, np.expm1))]
    else:
        model = _lgbm(config, objective="tweedie", tweedie_variance_power=config.tweedie_power)
        transforms = None
    return MLForecast(
        models={name: model},
        freq="D",
        lags=list(LAGS),
        lag_transforms=_lag_transforms(),
        date_features=list(DATE_FEATURES),
        target_transforms=transforms,
        num_threads=1,
    )


def _lgbm(config: GlobalModelConfig, **objective):
    import lightgbm as lgb

    return lgb.LGBMRegressor(
        **objective,
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


def conformity_scores(train: pd.DataFrame, horizon: int, config: GlobalModelConfig) -> pd.DataFrame:
    """Every member's absolute errors on the last ``conformal_windows`` windows of ``horizon``
    days of ``train`` (fewer where the shortest item allows fewer; mlforecast's minimum is two),
    from one fit on the data before the first window: mlforecast's own calibration
    (``cross_validation(refit=False)``), with the sample weights of the forecast's fit, so the
    calibrated model learns as the served one does (no stock-out day as zero demand)."""
    shortest = int(train.groupby("unique_id").size().min())
    windows = max(2, min(config.conformal_windows, (shortest - MIN_TRAIN) // horizon))
    coded = _category_codes(train)
    scores = None
    for name in MODELS:
        cv = _forecaster(config, name).cross_validation(
            coded, n_windows=windows, h=horizon, refit=False, static_features=[STATIC, *ITEM_STATS],
            dropna=False, weight_col="weight",
        )  # fmt: skip
        errors = cv[CALIBRATION_KEYS].assign(**{name: (cv[name] - cv["y"]).abs().to_numpy()})
        scores = errors if scores is None else scores.merge(errors, on=CALIBRATION_KEYS)
    assert scores is not None
    return scores


def stored_calibration(scores: pd.DataFrame, members: pd.DataFrame) -> Calibration:
    """One stored calibration back from its ``ml.global_calibration`` rows and its
    ``ml.global_members`` rows (none: trained at the origin), checked (:func:`calibration_scores`,
    :func:`stored_members`: a ValueError naming the fingerprint)."""
    return Calibration(
        pd.Timestamp(scores["calibrated_at"].iloc[0]),
        scores["fingerprint"].iloc[0],
        calibration_scores(scores),
        reused=True,
        members=stored_members(members),
    )


def train_members(train: pd.DataFrame, config: GlobalModelConfig) -> dict[str, str]:
    """Every member of :data:`MODELS` fitted on ``train``, as LightGBM text (what
    :func:`fit_predict` forecasts with, on this day or a later one)."""
    coded = _category_codes(train)
    members = {}
    for name in MODELS:
        mlf = _forecaster(config, name)
        mlf.fit(coded, static_features=[STATIC, *ITEM_STATS], dropna=False, weight_col="weight")
        members[name] = mlf.models_[name].booster_.model_to_string()
    return members


def fit_predict(
    train: pd.DataFrame,
    future: pd.DataFrame,
    horizon: int,
    quantiles: tuple[float, ...],
    config: GlobalModelConfig,
    scores: pd.DataFrame,
    members: dict[str, str] | None = None,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, float, float]:
    """Forecast ``horizon`` days after ``train`` with ``future``'s covariates, with conformal
    intervals from ``scores`` (:func:`conformity_scores`, of the same items), by every member of
    :data:`MODELS`: fitted on ``train``, or given in ``members`` (:func:`train_members`, on an
    earlier frame of the same items; then only the features are built from ``train``).

    Returns member -> (item_id, date, point, quantile columns), feature importance (model,
    feature, gain), and the fit and predict seconds.
    """
    import lightgbm as lgb
    from mlforecast.utils import PredictionIntervals

    # mlforecast reads the scores as (window, item, day) blocks, items in its own sorted order.
    ordered = scores.sort_values(["cutoff", "unique_id", "ds"], ignore_index=True)
    intervals = PredictionIntervals(n_windows=ordered["cutoff"].nunique(), h=horizon)
    coded = _category_codes(train)
    forecasts, gains, fit_s, predict_s = {}, [], 0.0, 0.0
    for name in MODELS:
        mlf = _forecaster(config, name)
        started = time.perf_counter()
        if members:  # the recursive state (lags, rolling means) from train; the trees as given
            mlf.preprocess(coded, static_features=[STATIC, *ITEM_STATS], dropna=False, weight_col="weight")
            booster = lgb.Booster(model_str=members[name])
            mlf.models_ = {name: booster}
        else:
            mlf.fit(coded, static_features=[STATIC, *ITEM_STATS], dropna=False, weight_col="weight")
            booster = mlf.models_[name].booster_
        # What mlforecast's fit(prediction_intervals=...) keeps, from a calibration made apart.
        mlf.prediction_intervals = intervals
        mlf._cs_df = ordered[["unique_id", "ds", "cutoff", name]]
        fitted = time.perf_counter()
        raw = mlf.predict(horizon, X_df=future, level=levels_for(quantiles))
        predict_s += time.perf_counter() - fitted
        fit_s += fitted - started
        forecasts[name] = quantile_frame(raw, name, quantiles)
        gain = booster.feature_importance(importance_type="gain")
        gains.append(pd.DataFrame({"model": name, "feature": booster.feature_name(), "gain": gain}))
    importance = pd.concat(gains, ignore_index=True).sort_values(["model", "gain"], ascending=[True, False])
    return forecasts, importance.reset_index(drop=True), fit_s, predict_s


@dataclass(frozen=True)
class _Job:
    """What every slice fit of one call shares (shipped once to a Ray cluster)."""

    as_of: pd.Timestamp
    horizon: int
    quantiles: tuple[float, ...]
    config: GlobalModelConfig
    spec: dict[str, object]
    client_id: str
    events: pd.DataFrame | None
    categories: pd.Series | None
    min_history: int
    run_id: str | None
    # A stored calibration by fingerprint, or None; only where the fit runs in this process.
    calibration_lookup: Callable[[str], Calibration | None] | None = None


@dataclass
class SliceFit:
    """One slice of one origin, fitted: its rows, the members' feature gains, what it cost."""

    rows: pd.DataFrame
    importance: pd.DataFrame
    excluded: dict[str, str]
    fit_seconds: float = 0.0
    predict_seconds: float = 0.0
    series: int = 0
    calibration: Calibration | None = None
    calibration_seconds: float = 0.0


@dataclass
class Built:
    """One slice's frames at one origin, and the training frame its calibration is measured on."""

    train: pd.DataFrame
    future: pd.DataFrame
    excluded: dict[str, str]
    calibration_train: pd.DataFrame  # ``train`` itself when calibrated at the cutoff
    calibrated_at: pd.Timestamp
    _calibration_print: str | None = field(default=None, repr=False)

    def calibration_fingerprint(self, spec: dict[str, object]) -> str:
        """Of the calibration's frame: the key its stored scores are found by. Hashed once (it
        sorts the whole frame), though both the origin's fingerprint and the lookup need it."""
        from forecast_assets.core.forecasting.reuse import frames_fingerprint

        if self._calibration_print is None:
            self._calibration_print = frames_fingerprint((self.calibration_train,), spec)
        return self._calibration_print


def _slice_frames(job: _Job, demand: pd.DataFrame, calendar: pd.DataFrame, cutoff: pd.Timestamp) -> Built:
    """The slice's frames at ``cutoff`` and at its calibration day (:func:`calibration_date`).

    A slice whose items at the calibration day are not its items at the cutoff (one has just
    reached the history it needs) is calibrated at the cutoff: mlforecast's intervals need an
    item's own errors.
    """

    def frames_at(day: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
        train, future, _, dropped = training_frames(
            demand, calendar, day, job.horizon, client_id=job.client_id, events=job.events,
            categories=job.categories, history_days=job.config.history_days, min_history=job.min_history,
        )  # fmt: skip
        return train, future, dropped

    train, future, dropped = frames_at(cutoff)
    at = calibration_date(cutoff, job.config.calibration_days)
    if at < cutoff and not train.empty:
        earlier = frames_at(at)[0]
        if set(earlier["unique_id"]) == set(train["unique_id"]):
            return Built(train, future, dropped, earlier, at)
    return Built(train, future, dropped, train, calibration_date(cutoff, 1))


def _calibration(job: _Job, built: Built) -> tuple[Calibration, float, float]:
    """The slice's calibration (with its members, where trained at the grid day), read back where
    an earlier run stored the same one, else fitted; and the seconds calibrating and training."""
    fingerprint = built.calibration_fingerprint(job.spec)
    stored = job.calibration_lookup(fingerprint) if job.calibration_lookup is not None else None
    # Else the members are trained at the cutoff, by fit_predict.
    on_grid = job.config.training == "grid" and built.calibration_train is not built.train
    if stored is not None and (stored.members or not on_grid):
        return replace(stored, calibrated_at=built.calibrated_at, reused=True), 0.0, 0.0
    started = time.perf_counter()
    if stored is not None:  # its members' rows were replaced since the lookup began: errors stand
        scores = stored.scores
    else:
        scores = conformity_scores(built.calibration_train, job.horizon, job.config)
    calibrated = time.perf_counter()
    members = train_members(built.calibration_train, job.config) if on_grid else {}
    trained = time.perf_counter()
    calibration = Calibration(built.calibrated_at, fingerprint, scores, members=members)
    return calibration, calibrated - started, trained - calibrated


def _fit_built(job: _Job, built: Built, kind: str, cutoff: pd.Timestamp) -> SliceFit:
    """One slice's frames forecast by every member (trained at the grid day or at the cutoff); its
    rows as ``ml.global_forecast`` rows."""
    if built.train.empty:
        no_gain = pd.DataFrame(columns=["model", "feature", "gain"])
        return SliceFit(pd.DataFrame(), no_gain, built.excluded)
    calibration, calibration_s, train_s = _calibration(job, built)
    forecasts, gain, fit_s, predict_s = fit_predict(
        built.train, built.future, job.horizon, job.quantiles, job.config, calibration.scores,
        calibration.members,
    )  # fmt: skip
    fit_s += train_s
    rows = []
    for name, forecast in forecasts.items():
        finalized = finalize_forecast(forecast, name, job.quantiles, cutoff)
        rows.append(forecast_rows(finalized, job.as_of, kind, cutoff, f"mlforecast/{name}", job.run_id))
    n_items = built.train["unique_id"].nunique()
    return SliceFit(pd.concat(rows, ignore_index=True), gain, built.excluded, fit_s, predict_s, n_items,
                    calibration, calibration_s)  # fmt: skip


def _build_and_fit(
    job: _Job, demand: pd.DataFrame, calendar: pd.DataFrame, kind: str, cutoff: pd.Timestamp
) -> SliceFit:
    """One slice of one origin from its demand and calendar: the unit of work of a Ray task."""
    return _fit_built(job, _slice_frames(job, demand, calendar, cutoff), kind, cutoff)


def _of_items(frame: pd.DataFrame, items: list[str]) -> pd.DataFrame:
    return frame[frame["item_id"].isin(items)]


Origin = tuple[str, pd.Timestamp]  # (kind, cutoff)
Fits = Iterator[tuple[str, pd.Timestamp, int, SliceFit]]  # (kind, cutoff, slice number, fit)


def _local_fits(job: _Job, frames: ClientFrames, slices: list[list[str]], pending: list[Origin]) -> Fits:
    """Every (origin, slice) fit in this process, a slice at a time: each slice is read once and
    fitted at every pending origin, so memory holds one slice's frames."""
    if not pending:
        return
    for number, items in enumerate(slices):
        demand, calendar = frames.read(items)
        for kind, cutoff in pending:
            yield kind, cutoff, number, _build_and_fit(job, demand, calendar, kind, cutoff)


def _ray_fits(job: _Job, frames: ClientFrames, slices: list[list[str]], pending: list[Origin],
              address: str) -> Fits:  # fmt: skip
    """Every (origin, slice) fit as a Ray task, all submitted before any is awaited; each slice's
    demand and calendar go to the object store once and serve every origin. A task reserves as
    many CPUs as its LightGBM threads (:func:`ray_threads`). A task has no warehouse, so it fits
    its calibration rather than read a stored one."""
    import ray

    from forecast_assets.core.forecasting.distributed import ray_connection

    with ray_connection(address):
        largest = max((node["Resources"].get("CPU", 0) for node in ray.nodes() if node["Alive"]), default=0)
        if job.config.n_jobs > largest:
            raise ValueError(
                f"GLOBAL_MODEL_N_JOBS={job.config.n_jobs}: no node of the Ray cluster at {address!r} "
                f"has that many CPUs (the largest has {largest:g}), so its tasks could never start"
            )
        fit = ray.remote(num_cpus=job.config.n_jobs)(_build_and_fit)
        shared = ray.put(replace(job, calibration_lookup=None))
        inputs = [tuple(map(ray.put, frames.read(items))) for items in slices] if pending else []
        tasks = [
            (kind, cutoff, number, fit.remote(shared, slice_demand, slice_calendar, kind, cutoff))
            for kind, cutoff in pending
            for number, (slice_demand, slice_calendar) in enumerate(inputs)
        ]
        try:
            while tasks:  # each result leaves the object store once it is read
                kind, cutoff, number, task = tasks.pop(0)
                yield kind, cutoff, number, ray.get(task)
        finally:  # a failed task (or step) cancels the rest, on a long-lived cluster too
            for *_, task in tasks:
                ray.cancel(task)


def ray_threads(n_jobs: int) -> int:
    """LightGBM threads of a Ray task: ``GLOBAL_MODEL_N_JOBS`` when it names a count, else one.

    Why not every core: on a cluster the parallelism is across tasks (slices and origins), and
    LightGBM reads ``-1`` as the node's core count, not the task's CPUs, so two such tasks on a
    2-core node ran 1.8x slower than one thread locally (OpenMP threads oversubscribed).
    """
    return n_jobs if n_jobs >= 1 else 1


def forecast_global_from_origins(
    frames: ClientFrames,
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
    log: Callable[[str], None] | None = None,
    ray_address: str = "",
    calibration_lookup: Callable[[str], Calibration | None] | None = None,
    sink: Callable[[pd.DataFrame], None] | None = None,
) -> GlobalResult:
    """The global models (every member of :data:`MODELS`) from every ``(kind, cutoff)`` origin,
    as ``ml.global_forecast`` rows, for the client whose demand and calendar ``frames`` reads a
    slice at a time (:class:`ClientFrames`).

    The members are trained per origin on data up to that origin only (or its grid day), so a
    backtest is the model as it would have been at the cutoff, and per slice of at most
    ``config.slice_items`` items (:func:`slices_of`; the live origin's feature importance is
    summed over slices). Items with
    fewer than ``max(min_history_days, 2 * horizon + MIN_TRAIN)`` observed days are left to the
    other models (a lagged model with two conformal windows needs that much), and listed in
    ``excluded``.

    Each origin's inputs are fingerprinted with the model's specification before anything is
    built (:func:`origin_fingerprints`, ``result.fingerprints``); when ``reusable(kind, cutoff,
    fingerprint)`` says a stored forecast was made from the same inputs, the backtest is not
    fitted and its cutoff is listed in ``result.reused`` (core/forecasting/reuse.py). ``log``
    gets a progress line after each slice fitted (items done, rate, time left). With
    ``ray_address`` (Ray's own: ``"local"`` starts a cluster on this machine for the call) each
    slice of each origin is fitted by a Ray task instead of in this process, with
    :func:`ray_threads` LightGBM threads: the same pure fit, so the rows of a local fit with that
    many threads.

    Each origin's members are trained and calibrated on the data up to its
    :func:`calibration_date`; ``calibration_lookup(fingerprint)`` returns the calibration (errors
    and members) an earlier run stored for that data, or None (then they are fitted). The live
    origin's calibrations are in ``result.calibrations``.

    With ``sink``, each fitted slice's backtest rows go to ``sink`` as soon as they are fitted and
    ``result.rows`` holds the live origin's only, so memory holds one slice of the backtests, not
    every origin of the client (the asset spools them to Parquet).
    """
    min_history = max(min_history_days, 2 * horizon + MIN_TRAIN)
    if ray_address:  # the threads are part of the fingerprint: LightGBM's sums may differ with them
        config = replace(config, n_jobs=ray_threads(config.n_jobs))
    job = _Job(pd.Timestamp(as_of), horizon, tuple(quantiles), config,
               global_spec(config, horizon, quantiles, min_history), client_id, events, categories,
               min_history, run_id, calibration_lookup)  # fmt: skip
    slices = slices_of(frames.items, categories, config.slice_items)
    result = GlobalResult(
        rows=pd.DataFrame(), importance=pd.DataFrame(columns=["model", "feature", "gain"]), config=config
    )
    cutoffs = [pd.Timestamp(at) for _, at in origins]
    prints = origin_fingerprints(frames, cutoffs, job.spec, horizon, events, categories, slices)
    result.fingerprints = prints
    pending: list[Origin] = []
    for kind, cutoff in zip((kind for kind, _ in origins), cutoffs, strict=True):
        if kind == "backtest" and reusable is not None and reusable(kind, cutoff, prints[cutoff]):
            result.reused.append(cutoff)
        else:
            pending.append((kind, cutoff))
    total, done, started = len(pending) * sum(map(len, slices)), 0, time.perf_counter()
    if ray_address:
        fits = _ray_fits(job, frames, slices, pending, ray_address)
    else:
        fits = _local_fits(job, frames, slices, pending)
    parts, gains = [], []
    for kind, cutoff, number, fit in fits:
        if kind == "forecast":
            result.excluded.update(fit.excluded)
            gains.append(fit.importance)
            if fit.calibration is not None:
                result.calibrations.append(fit.calibration)
        if sink is not None and kind != "forecast":
            if not fit.rows.empty:
                sink(fit.rows)
        else:
            parts.append(fit.rows)
        result.fit_seconds += fit.fit_seconds
        result.predict_seconds += fit.predict_seconds
        result.calibration_seconds += fit.calibration_seconds
        result.series_fit += fit.series
        done += len(slices[number])
        if log is not None and fit.series:
            label = f"global model (origin {cutoff.date()}, slice {number + 1}/{len(slices)})"
            log(progress_line(label, done, total, time.perf_counter() - started, unit="item fits"))
    parts = [part for part in parts if not part.empty]
    result.rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    gains = [gain for gain in gains if not gain.empty]
    if gains:
        summed = pd.concat(gains).groupby(["model", "feature"], as_index=False)["gain"].sum()
        result.importance = summed.sort_values(["model", "gain"], ascending=[True, False], ignore_index=True)
    return result


def origin_fingerprints(
    frames: ClientFrames,
    cutoffs: Sequence[pd.Timestamp],
    spec: dict[str, object],
    horizon: int,
    events: pd.DataFrame | None = None,
    categories: pd.Series | None = None,
    slices: list[list[str]] | None = None,
) -> dict[pd.Timestamp, str]:
    """Each cutoff's fingerprint: of the inputs its frames (and its calibration's, at an earlier
    day) are built from, less :data:`PLANNED_AT_CUTOFF` (``reuse.inputs_fingerprints``).

    Why not of the frames: a live forecast is the backtest of the run ``horizon`` days later,
    but its frames planned with the list price of its day, and the later run's re-base that on
    the prices up to the cutoff, so their hashes never matched and every daily run refitted
    every backtest of the global model (seen on the test landing: the live forecast of
    2026-10-03 refitted four weeks later, where the baselines read theirs back). The live
    forecast's rows are what was served with what was known that day, so they are its
    backtest; the re-based plan follows from the history and promotions, which are hashed. An
    item with no day delivered after the cutoff keeps the calendar's plan in a backtest, but it
    has no actual to be scored on. Nor is the slicing hashed, beyond its size: it follows the
    run's items, and a later run may have more, but the rows read back are still the forecast
    served that day. Fingerprinting the inputs also spares building a backtest's
    frames to learn that it can be read back: 3.0 of a refresh's 4.6 s on 150 M5 items.

    With ``slices``, each slice is read and digested in turn and the digests are summed
    (``reuse.summed``): the fingerprint of the whole client, with one slice in memory.
    """
    from forecast_assets.core.forecasting.reuse import daily_digest, inputs_fingerprints, summed

    digests = []
    for items in [frames.items] if slices is None else slices:  # one slice in memory at a time
        demand, calendar = frames.read(items)
        known = calendar.drop(columns=[c for c in PLANNED_AT_CUTOFF if c in calendar.columns])
        digests.append((daily_digest(demand), daily_digest(known)))
    demand_digest, calendar_digest = (summed([d[i] for d in digests]) for i in (0, 1))
    ahead = [calendar_digest] if events is None or events.empty else [calendar_digest, events]
    whole = [] if categories is None else [categories.rename("category").rename_axis("item_id").reset_index()]
    return inputs_fingerprints(
        cutoffs, spec, history=demand_digest, ahead=ahead, horizon=horizon, whole=whole
    )


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
        "models": ",".join(MODELS),
        "objectives": f"tweedie(p={config.tweedie_power}),l2(log1p)",
        "rounds": config.rounds,
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "conformal_windows": config.conformal_windows,
        "calibration_days": config.calibration_days,
        "training": config.training,
        "history_days": config.history_days,
        "slice_items": config.slice_items,
        "n_jobs": config.n_jobs,
        "lags": ",".join(map(str, LAGS)),
        "date_features": ",".join(DATE_FEATURES),
        "price_features": ",".join(PRICE_FEATURES),
        "static_features": ",".join((STATIC, *ITEM_STATS)),
    }


def cost_metrics(result: GlobalResult) -> dict[str, float]:
    """Training and prediction cost: seconds and series per second (summed over origins; on Ray
    over tasks that ran side by side, so a rate per task, not the step's throughput)."""

    def per(seconds: float) -> float:
        return result.series_fit / seconds if seconds > 0 else 0.0

    return {
        "calibration_seconds": result.calibration_seconds,
        "fit_seconds": result.fit_seconds,
        "predict_seconds": result.predict_seconds,
        "fit_series_per_second": per(result.fit_seconds),
        "predict_series_per_second": per(result.predict_seconds),
    }
