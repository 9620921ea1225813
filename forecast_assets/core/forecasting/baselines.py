"""Statistical baselines with statsforecast: the yardstick Chronos must beat, and its fallback.

Models: seasonal naive (weekly), AutoETS and AutoTheta (weekly season), a 7-day moving average,
and Croston SBA (Syntetos and Boylan, 2005) for items whose demand is intermittent or lumpy in
the Syntetos-Boylan-Croston classification. Quantiles come from the models' own prediction
intervals (the central ``level``% interval gives the ``(1-level)/2`` and ``(1+level)/2``
quantiles); the moving average and Croston have none, so they get conformal intervals from
statsforecast. Series too short for those models get a historic average, with the reason
recorded. statsforecast fits items in parallel processes when ``n_jobs`` > 1 (``-1``: every
core); with a Ray address the items are fitted by Ray tasks instead (``distributed.py``). Every
model is fitted per item, so the forecasts do not depend on how the items are spread.

What they read and search, decided on M5 (docs/accuracy.md, issue 16): the last
``history_days`` before each origin (``BASELINE_HISTORY_DAYS``, default two years), and one model
form each: AutoETS with additive error, no trend and additive weekly season (:data:`ETS_MODEL`)
and AutoTheta's standard theta (:data:`THETA_MODEL`). On M5's 300 series that scored as the full
searches did (backtest WAPE 0.492 and 0.494 against 0.492 and 0.495; validation 0.452 and 0.456
against 0.451 and 0.456) at 0.18 of the cost (``benchmarks/baseline_variants.py``); a full search
is ``"ZZZ"`` and ``None``. One year instead of two halves the cost again but was 0.5-0.6% worse
on AutoETS's validation WAPE. Fitting is nearly all of a large client's nightly run, so this is
what lets it finish.

Stock-out days are missing demand, never zeros: the shelf was empty, so what sold says nothing
about what customers wanted. The statsforecast models need a complete series, so a stock-out
day's target is imputed (:func:`impute_stockouts`) from the same item's in-stock days before it,
and the demand classes are computed on in-stock days only. Without this a stocked-out week is
learned as a week of zero demand, copied forward by the seasonal naive, and under-ordered.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecast_assets.core.classification import adi_cv2, demand_class
from forecast_assets.core.forecasting.chronos_stream import forecast_rows
from forecast_assets.core.forecasting.frame import finalize_forecast, quantile_column
from forecast_assets.core.forecasting.report import model_problems
from forecast_assets.core.running.progress import progress_line

SEASON = 7
ETS_MODEL = "ANA"  # error, trend, season: additive, none, additive ("ZZZ" searches every form)
THETA_MODEL = "STM"  # standard theta (None searches STM, OTM, DSTM and DOTM)
HISTORY_DAYS = 730  # the days before an origin the baselines read by default (0: all of them)
MODEL_ALIASES = {
    "SeasonalNaive": "seasonal_naive",
    "AutoETS": "auto_ets",
    "AutoTheta": "auto_theta",
    "WindowAverage": "moving_average_7",
    "CrostonSBA": "croston_sba",
    "HistoricAverage": "historic_average",
}
INTERMITTENT_CLASSES = ("intermittent", "lumpy")
# Items fitted per call when fitting locally: each slice ends with a progress line, and a fit's
# memory is bounded by its slice. Large enough that a process pool's start-up is noise beside the
# fits (AutoETS and AutoTheta cost about 0.1-0.3 s per item and origin).
SLICE_ITEMS = 2000
# Imputation of stock-out days: the mean of the same weekday over the previous weeks, else of the
# previous days, else of the item's in-stock history (else zero: an item never in stock).
IMPUTE_SAME_WEEKDAYS = 4
IMPUTE_RECENT_DAYS = 28
# The demand columns the baselines read: an origin whose rows of these are unchanged up to its
# cutoff forecasts the same (core/forecasting/reuse.py).
INPUT_COLUMNS = ("item_id", "date", "units_sold", "is_stockout")


def baseline_spec(
    horizon: int, quantiles: tuple[float, ...], min_history_days: int, history_days: int = HISTORY_DAYS
) -> dict[str, object]:
    """What, besides the data, decides the baselines' forecast: part of each origin's fingerprint."""
    import sys
    from importlib.metadata import version

    from forecast_assets.core.forecasting import frame
    from forecast_assets.core.forecasting.reuse import code_digest

    return {
        "code": code_digest(sys.modules[__name__], frame),
        "models": ",".join(MODEL_ALIASES.values()),
        "season": SEASON,
        "horizon": horizon,
        "quantiles": quantiles,
        "min_history_days": min_history_days,
        "history_days": history_days,
        "ets_model": ETS_MODEL,
        "theta_model": THETA_MODEL,
        "statsforecast": version("statsforecast"),
    }


def baseline_inputs(demand: pd.DataFrame) -> pd.DataFrame:
    """The part of ``demand`` the baselines read (their fingerprint's input)."""
    return demand[[c for c in INPUT_COLUMNS if c in demand.columns]]


def impute_stockouts(demand: pd.DataFrame) -> pd.DataFrame:
    """``units_sold`` with stock-out days replaced by an estimate from in-stock days up to them.

    ``demand`` is one row per item and day (``ts_demand_daily``). Only earlier in-stock days feed
    a stock-out day's estimate (the trailing same-weekday mean over ``IMPUTE_SAME_WEEKDAYS``
    weeks, else the trailing mean over ``IMPUTE_RECENT_DAYS`` days), so nothing after a cutoff
    reaches a forecast from it; the item's in-stock mean is the last resort. A frame without
    ``is_stockout`` is returned as it is.
    """
    if "is_stockout" not in demand.columns or not (demand["is_stockout"] == 1).any():
        return demand
    out = demand.sort_values(["item_id", "date"]).copy()
    observed = out["units_sold"].astype(float).where(out["is_stockout"] != 1)
    weekday = pd.to_datetime(out["date"]).dt.dayofweek
    same_weekday = observed.groupby([out["item_id"], weekday]).transform(
        lambda s: s.shift(1).rolling(IMPUTE_SAME_WEEKDAYS, min_periods=1).mean()
    )
    recent = observed.groupby(out["item_id"]).transform(
        lambda s: s.shift(1).rolling(IMPUTE_RECENT_DAYS, min_periods=1).mean()
    )
    overall = observed.groupby(out["item_id"]).transform("mean")
    estimate = same_weekday.fillna(recent).fillna(overall).fillna(0.0)
    out["units_sold"] = observed.fillna(estimate)
    return out


def levels_for(quantiles: tuple[float, ...]) -> list[int]:
    """Interval levels whose bounds are the requested quantiles (0.1 and 0.9 -> 80)."""
    levels = {round(abs(1 - 2 * q) * 100) for q in quantiles if q != 0.5}
    return sorted(levels)


def quantile_frame(raw: pd.DataFrame, alias: str, quantiles: tuple[float, ...]) -> pd.DataFrame:
    """A Nixtla forecast (``<alias>``, ``<alias>-lo-<level>``, ``<alias>-hi-<level>`` columns, as
    statsforecast and mlforecast both write them) as point and quantile columns."""
    out = raw[["unique_id", "ds"]].rename(columns={"unique_id": "item_id", "ds": "date"})
    out["point"] = raw[alias].to_numpy()
    for q in quantiles:
        if q == 0.5:
            out[quantile_column(q)] = raw[alias].to_numpy()
            continue
        level = round(abs(1 - 2 * q) * 100)
        side = "lo" if q < 0.5 else "hi"
        out[quantile_column(q)] = raw[f"{alias}-{side}-{level}"].to_numpy()
    return out


@dataclass
class BaselineResult:
    forecasts: pd.DataFrame
    skipped: dict[str, str]  # item_id -> why it got only the historic average
    demand_classes: dict[str, int]  # Syntetos-Boylan class -> number of items


def _in_stock(history: pd.DataFrame) -> pd.DataFrame:
    """The in-stock days as a statsforecast frame (classes are about demand, not empty shelves)."""
    rows = history[history["is_stockout"] != 1] if "is_stockout" in history.columns else history
    return rows.rename(columns={"item_id": "unique_id", "date": "ds", "units_sold": "y"})[["unique_id", "y"]]


def classify_items(df: pd.DataFrame) -> pd.Series:
    """Syntetos-Boylan-Croston class per ``unique_id`` of a statsforecast frame (None if undefined)."""
    return df.groupby("unique_id")["y"].agg(lambda y: demand_class(*adi_cv2(y.to_numpy())))


def forecast_baselines(
    demand: pd.DataFrame,
    cutoff: pd.Timestamp,
    horizon: int,
    quantiles: tuple[float, ...],
    min_history_days: int = 14,
    n_jobs: int = 1,
    history_days: int = HISTORY_DAYS,
) -> BaselineResult:
    """Forecast every item in ``demand`` (item_id, date, units_sold) from the ``history_days`` days
    up to ``cutoff`` (0: all of them); demand classes and stock-out estimates read the same days."""
    from statsforecast import StatsForecast
    from statsforecast.models import (
        AutoETS,
        AutoTheta,
        CrostonSBA,
        HistoricAverage,
        SeasonalNaive,
        WindowAverage,
    )
    from statsforecast.utils import ConformalIntervals

    cutoff = pd.Timestamp(cutoff)
    history = demand[demand["date"] <= cutoff]
    if history_days:
        history = history[history["date"] > cutoff - pd.Timedelta(days=history_days)]
    df = impute_stockouts(history).rename(columns={"item_id": "unique_id", "date": "ds", "units_sold": "y"})[
        ["unique_id", "ds", "y"]
    ]
    df = df.astype({"y": float}).sort_values(["unique_id", "ds"])
    lengths = df.groupby("unique_id").size()
    levels = levels_for(quantiles)
    conformal_min = 2 * horizon + SEASON  # two calibration windows (statsforecast's minimum)

    classes = classify_items(_in_stock(history))
    intermittent = set(classes[classes.isin(INTERMITTENT_CLASSES)].index)
    long_ids = lengths[lengths >= max(min_history_days, conformal_min)].index
    mid_ids = lengths[(lengths >= min_history_days) & (lengths < conformal_min)].index
    short_ids = lengths[lengths < min_history_days].index

    def conformal() -> ConformalIntervals:
        return ConformalIntervals(h=horizon, n_windows=2)

    def ets() -> AutoETS:
        return AutoETS(season_length=SEASON, model=ETS_MODEL)

    core = [SeasonalNaive(season_length=SEASON), ets(), AutoTheta(season_length=SEASON, model=THETA_MODEL)]
    groups: list[tuple[list, pd.Index]] = [
        (
            [*core, WindowAverage(window_size=SEASON, prediction_intervals=conformal())],
            long_ids.difference(list(intermittent)),
        ),
        (
            [
                *core,
                WindowAverage(window_size=SEASON, prediction_intervals=conformal()),
                CrostonSBA(prediction_intervals=conformal()),
            ],
            long_ids.intersection(list(intermittent)),
        ),
        ([SeasonalNaive(season_length=SEASON), ets()], mid_ids),
        ([HistoricAverage()], short_ids),
    ]

    frames = []
    for models, ids in groups:
        if len(ids) == 0:
            continue
        sf = StatsForecast(models=models, freq="D", n_jobs=n_jobs)
        raw = sf.forecast(df=df[df["unique_id"].isin(ids)], h=horizon, level=levels)
        raw = raw.reset_index() if "unique_id" not in raw.columns else raw
        for model in models:
            alias = model.alias
            frames.append(
                finalize_forecast(
                    quantile_frame(raw, alias, quantiles), MODEL_ALIASES[alias], quantiles, cutoff
                )
            )
    skipped = {
        str(item): f"{lengths[item]} days of history, fewer than the {min_history_days} the baselines need"
        for item in short_ids
    }
    for item in mid_ids:
        skipped[str(item)] = (
            f"{lengths[item]} days of history: too short for calibrated moving-average intervals "
            f"({conformal_min} needed)"
        )
    forecasts = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    counts = classes.fillna("undefined").value_counts()
    return BaselineResult(
        forecasts=forecasts, skipped=skipped, demand_classes={str(k): int(v) for k, v in counts.items()}
    )


def history_start(cutoffs: Sequence[pd.Timestamp], history_days: int = HISTORY_DAYS) -> pd.Timestamp | None:
    """The day before the first one any of ``cutoffs`` reads (its ``history_days`` window), so
    the step reads ``date > history_start`` and nothing older; None with ``history_days`` 0,
    where every origin reads all of the history."""
    if not history_days or not cutoffs:
        return None
    return min(pd.Timestamp(c) for c in cutoffs) - pd.Timedelta(days=history_days)


def item_slices(
    item_ids: Sequence[str], n_slices: int, categories: pd.Series | None = None
) -> list[list[str]]:
    """Sorted item ids cut into at most ``n_slices`` contiguous, non-empty slices of near-equal
    size; with ``categories`` (item id -> category) sorted by category first, so a slice holds
    related items (what a model pooled over a slice needs)."""
    cats = categories if categories is not None else pd.Series(dtype=object)
    ids = sorted({str(item) for item in item_ids}, key=lambda item: (str(cats.get(item, "")), item))
    n = max(1, min(n_slices, len(ids)))
    return [list(part) for part in np.array_split(np.array(ids, dtype=object), n) if len(part)]


def merge_results(parts: Sequence[BaselineResult]) -> BaselineResult:
    """One client's result from the results of disjoint item slices: forecasts stacked (by model,
    item and date, so the order does not depend on the slicing), skipped items joined, demand
    class counts summed."""
    frames = [p.forecasts for p in parts if not p.forecasts.empty]
    forecasts = (
        pd.concat(frames, ignore_index=True).sort_values(["model", "item_id", "date"], ignore_index=True)
        if frames
        else pd.DataFrame()
    )
    skipped: dict[str, str] = {}
    classes: dict[str, int] = {}
    for part in parts:
        skipped.update(part.skipped)
        for name, count in part.demand_classes.items():
            classes[name] = classes.get(name, 0) + count
    return BaselineResult(forecasts=forecasts, skipped=skipped, demand_classes=classes)


@dataclass
class LiveReport:
    """What a step reports of its live origin, gathered a slice at a time so that its rows can be
    written as they are fitted instead of held: the models that forecast, the rows, the items
    that got only a fallback (and why), the demand classes, and the problems the step's check
    finds (``report.model_problems``, per slice: every item is in exactly one)."""

    models: set[str] = field(default_factory=set)
    rows: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    demand_classes: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(
        self, result: BaselineResult, items: Sequence[str], horizon: int, quantiles: tuple[float, ...]
    ) -> None:
        """Count in one slice's ``result`` for its ``items``."""
        forecasts = result.forecasts
        if not forecasts.empty:
            self.models |= set(forecasts["model"])
        self.rows += len(forecasts)
        self.skipped.update(result.skipped)
        for name, count in result.demand_classes.items():
            self.demand_classes[name] = self.demand_classes.get(name, 0) + count
        empty = pd.DataFrame(columns=["model", "item_id"])
        self.problems += model_problems(empty if forecasts.empty else forecasts, items, horizon, quantiles)


def _fit_in_slices(
    demand: pd.DataFrame,
    cutoffs: Sequence[pd.Timestamp],
    horizon: int,
    quantiles: tuple[float, ...],
    min_history_days: int,
    n_jobs: int,
    slice_items: int,
    log: Callable[[str], None] | None,
    history_days: int = HISTORY_DAYS,
) -> Iterator[tuple[int, list[str], BaselineResult]]:
    """:func:`forecast_baselines` of every cutoff, over slices of ``slice_items`` items in turn,
    with a progress line after each slice: ``(index of the cutoff, the slice's items, its
    result)``, one slice at a time, so a caller that writes each away holds one slice's
    forecasts. Every model is fitted per item, so the slices add up to the whole client's fit."""
    ids = demand["item_id"].unique()
    slices = item_slices(ids, -(-len(ids) // max(1, slice_items)))
    item_key = demand["item_id"].astype(str)
    parts_by_slice = [demand[item_key.isin(part)] for part in slices]
    total, done, started = len(cutoffs) * len(ids), 0, time.perf_counter()
    for index, cutoff in enumerate(cutoffs):
        for items, part in zip(slices, parts_by_slice, strict=True):
            result = forecast_baselines(
                part, cutoff, horizon, quantiles, min_history_days, n_jobs, history_days
            )
            done += len(items)
            if log is not None:
                label = f"baselines (origin {pd.Timestamp(cutoff).date()})"
                log(progress_line(label, done, total, time.perf_counter() - started, unit="item fits"))
            yield index, items, result


def forecast_baselines_from_origins(
    demand: pd.DataFrame,
    origins: Sequence[tuple[str, pd.Timestamp]],
    as_of: pd.Timestamp,
    horizon: int,
    quantiles: tuple[float, ...],
    *,
    write: Callable[[pd.DataFrame], None],
    min_history_days: int = 14,
    n_jobs: int = 1,
    run_id: str | None = None,
    ray_address: str = "",
    slice_items: int = SLICE_ITEMS,
    log: Callable[[str], None] | None = None,
    history_days: int = HISTORY_DAYS,
) -> LiveReport:
    """The baselines from every ``(kind, cutoff)`` origin, handed to ``write`` as
    ``ml.baseline_forecast`` rows a slice of one origin at a time, and the report of the live
    (``forecast``) origin: its models, skipped items, demand classes and problems.

    Why ``write`` and not a frame: a 30,490-item client's origins are millions of rows, held
    several times over on their way to the table; written a slice at a time, the step holds one
    slice's. The origins are the ones Chronos forecasts from too, so the models' backtest scores
    compare. Fitted in ``n_jobs`` local processes over slices of ``slice_items`` items, with a
    progress line to ``log`` after each, or on the Ray cluster at ``ray_address`` when one is
    given (``"local"``: a Ray cluster started on this machine for the call; its results come back
    an origin at a time).
    """
    if not any(kind == "forecast" for kind, _ in origins):
        raise ValueError("origins must include the live ('forecast', as_of) origin")
    cutoffs = [cutoff for _, cutoff in origins]
    if ray_address:
        from forecast_assets.core.forecasting.distributed import forecast_baselines_on_ray

        results = forecast_baselines_on_ray(
            demand, cutoffs, horizon, quantiles, min_history_days, address=ray_address,
            history_days=history_days,
        )  # fmt: skip
        items = sorted(demand["item_id"].astype(str).unique())
        fits: Iterator[tuple[int, list[str], BaselineResult]] = (
            (index, items, result) for index, result in enumerate(results)
        )
    else:
        fits = _fit_in_slices(
            demand, cutoffs, horizon, quantiles, min_history_days, n_jobs, slice_items, log, history_days
        )
    live = LiveReport()
    for index, items, result in fits:
        kind, cutoff = origins[index]
        if kind == "forecast":
            live.add(result, items, horizon, quantiles)
        if result.forecasts.empty:
            continue
        rows = forecast_rows(result.forecasts, as_of, kind, cutoff, "statsforecast", run_id)
        rows["model_id"] = "statsforecast/" + rows["model"]
        write(rows)
    return live
