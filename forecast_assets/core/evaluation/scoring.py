"""Backtest and live evaluation, champions flagged in the accuracy table, and forecast value added.

- Backtest: every model forecasts from one or more cutoffs
  (:mod:`forecast_assets.core.forecasting.backtest`); the forecasts are scored against what sold,
  with every metric of :mod:`forecast_assets.core.evaluation.metrics`, per item, client and step.
  Client and step rows compare the models on the same items (``n_items``: how many).
- Live accuracy: forecasts stored at earlier ``as_of`` dates are scored once their dates have
  actuals, so accuracy is tracked on forecasts nobody could have tuned to the outcome.
- Champions: :func:`with_champions` flags the models chosen by
  :mod:`forecast_assets.core.evaluation.champions` in the accuracy table.
- Forecast value added (Gilliland, 2013): FVA = 1 - metric(model) / metric(seasonal_naive), so
  0.25 means 25% less error than the seasonal naive forecast, 0 no value added, and a negative
  value that the model does worse than the naive forecast it must beat. The baseline is scored
  on the same items and cutoffs as the row it is compared with.

Stock-out days are left out of every score: the shelf was empty, so what sold is not demand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from forecast_assets.core.evaluation.metrics import (
    DEFAULT_INTERVAL,
    LOWER_IS_BETTER,
    SEASON,
    accuracy_by_level,
    seasonal_scales,
)
from forecast_assets.core.forecasting.backtest import attach_actuals
from forecast_assets.core.forecasting.frame import DEFAULT_QUANTILES

BASELINE_MODEL = "seasonal_naive"


def scored_rows(
    forecasts: pd.DataFrame,
    demand: pd.DataFrame,
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES,
    season: int = SEASON,
    origin_column: str = "cutoff",
    scales: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Forecast rows with their actual, step and in-sample seasonal scale (stock-outs excluded).

    The scale of a row is that of its item from the data up to the row's origin
    (:func:`~forecast_assets.core.evaluation.metrics.seasonal_scales`), computed from ``demand``
    unless ``scales`` (item_id, cutoff, scale) are given: a caller that holds only the recent
    window of demand computes them over the whole history item slice by item slice. This is the
    frame the metrics, the residual drift check and the plots take.
    """
    scored = attach_actuals(forecasts, demand, quantiles, origin_column=origin_column)
    if scored.empty:
        return scored.assign(scale=pd.Series(dtype=float))
    if scales is None:
        scales = seasonal_scales(demand, list(scored["cutoff"].unique()), season)
    return scored.merge(scales[["item_id", "cutoff", "scale"]], on=["item_id", "cutoff"], how="left")


def evaluate_backtest(
    backtest: pd.DataFrame,
    demand: pd.DataFrame,
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES,
    season: int = SEASON,
    levels: Sequence[str] = ("item", "client", "step"),
    interval: tuple[float, float] = DEFAULT_INTERVAL,
) -> pd.DataFrame:
    """Accuracy of backtest forecasts from any number of cutoffs, per item, client and step.

    ``backtest`` has model, item_id, date, cutoff, point and quantile columns (``kind='backtest'``
    rows); ``demand`` is the client's ``ts_demand_daily``. The item level pools every window of
    the item. Columns as :func:`~forecast_assets.core.evaluation.metrics.accuracy_by_level`.
    """
    scored = scored_rows(backtest, demand, quantiles, season)
    return accuracy_by_level(scored, quantiles, levels, interval=interval)


def live_accuracy(
    forecasts: pd.DataFrame,
    demand: pd.DataFrame,
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES,
    season: int = SEASON,
    levels: Sequence[str] = ("item", "client", "step"),
    interval: tuple[float, float] = DEFAULT_INTERVAL,
    scales: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Accuracy of forecasts made at earlier ``as_of`` dates, on the dates that now have actuals.

    ``forecasts`` holds stored forecast rows (as_of, model, item_id, date, point, quantiles; rows
    of another ``kind`` than ``'forecast'`` are ignored when the column is there); ``demand`` holds
    the actuals known now. Only rows dated up to the latest actual are scored, so a forecast whose
    horizon is still partly in the future is scored on its elapsed steps (``n_obs`` says how
    many). Grouped by ``as_of`` and model (level ``client``), plus item (``item``) and horizon step
    (``step``, counted from ``as_of``). Scales come from the data up to each ``as_of`` (``scales``,
    with ``cutoff`` the origin, when given; see :func:`scored_rows`).
    """
    rows = forecasts
    if "kind" in rows.columns:
        rows = rows[rows["kind"] == "forecast"]
    rows = rows.assign(date=pd.to_datetime(rows["date"]), as_of=pd.to_datetime(rows["as_of"]))
    latest = pd.to_datetime(demand["date"]).max() if not demand.empty else None
    if latest is not None:
        rows = rows[rows["date"] <= latest]
    scored = scored_rows(rows, demand, quantiles, season, origin_column="as_of", scales=scales)
    return accuracy_by_level(scored, quantiles, levels, keys=("as_of",), interval=interval)


def live_accuracy_by_origin(
    origins: Iterable[pd.DataFrame],
    demand: pd.DataFrame,
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES,
    scales: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """:func:`live_accuracy` of each frame of ``origins`` (one origin's forecasts each), stacked;
    empty when there is none. An origin is scored on its own either way (its scales, its common
    items), so this equals scoring them all at once while holding one origin at a time."""
    parts = [live_accuracy(frame, demand, quantiles, scales=scales) for frame in origins if not frame.empty]
    parts = [part for part in parts if not part.empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def with_champions(accuracy: pd.DataFrame, champions: pd.DataFrame) -> pd.DataFrame:
    """One evaluation table: accuracy rows flagged ``is_champion``, plus a row for each champion
    chosen without a holdout score (so every item's champion is in the table; it pools nothing:
    n_obs and n_items 0)."""
    marked = accuracy.merge(
        champions.rename(columns={"champion_model": "model", "reason": "champion_reason"})[
            ["item_id", "model", "champion_reason"]
        ],
        on=["item_id", "model"],
        how="left",
    )
    if "level" in marked.columns:  # only item rows name an item's champion
        marked.loc[marked["level"] != "item", "champion_reason"] = None
    marked["is_champion"] = marked["champion_reason"].notna()
    unscored = champions[
        ~champions.set_index(["item_id", "champion_model"]).index.isin(
            accuracy.set_index(["item_id", "model"]).index
        )
        & champions["champion_model"].notna()
    ]
    extra = pd.DataFrame(
        {
            "level": "item",
            "model": unscored["champion_model"],
            "item_id": unscored["item_id"],
            "n_obs": 0,
            "n_items": 0,
            "champion_reason": unscored["reason"],
            "is_champion": True,
        }
    )
    return pd.concat([marked, extra], ignore_index=True) if not extra.empty else marked


def baseline_accuracy(
    scored: pd.DataFrame,
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES,
    baseline: str = BASELINE_MODEL,
    levels: Sequence[str] = ("item", "client", "step"),
    keys: Sequence[str] = (),
    interval: tuple[float, float] = DEFAULT_INTERVAL,
) -> pd.DataFrame:
    """The ``baseline``'s accuracy on each row's own observations: the table of
    :func:`~forecast_assets.core.evaluation.metrics.accuracy_by_level` for ``scored``, with each
    model's row holding the baseline's scores on that model's items and cutoffs (the
    ``forecasts_of`` option), so :func:`forecast_value_added` compares like with like."""
    return accuracy_by_level(scored, quantiles, levels, keys, interval, forecasts_of=baseline)


def forecast_value_added(
    accuracy: pd.DataFrame,
    metric: str = "mae",
    baseline: str = BASELINE_MODEL,
    levels: Sequence[str] = ("item", "client"),
    baseline_scores: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """FVA = 1 - metric(model) / metric(baseline) for every model, per item, client and step,
    the baseline scored on the same observations as the model.

    Positive: the model removes that share of the naive forecast's error; 0: no value added
    (the baseline's own rows); negative: worse than naive. NaN where the baseline was not scored
    on the same observations, or its error is 0 (nothing to improve on).

    With ``baseline_scores`` (:func:`baseline_accuracy` of the same scored rows) each row is
    compared with the baseline on exactly its own items and cutoffs: a client row of the models
    covering most items with the baseline on their common items, the own-items client row of a
    minority model (croston_sba on the intermittent items) with the baseline on those items.
    Without it, each row is compared with the baseline's row of the same level and keys, and only
    where both pool the same number of observations (``n_obs``, when the table has it): a
    minority model's client row then gets no FVA rather than a comparison over other items.
    ``accuracy`` is a table of :func:`evaluate_backtest` or :func:`live_accuracy` (extra keys
    such as ``as_of`` are kept and matched). Returns level, the keys, model, item_id, step,
    metric, value, baseline_value, fva.
    """
    metric = metric.lower()
    if metric not in LOWER_IS_BETTER:
        raise ValueError(f"FVA metric must be one of {sorted(LOWER_IS_BETTER)}, got {metric!r}")
    keys = [c for c in ("level", "as_of", "item_id", "step") if c in accuracy.columns]
    columns = [
        *[k for k in ("level", "as_of") if k in keys],
        "model",
        "item_id",
        "step",
        "metric",
        "value",
        "baseline_value",
        "fva",
    ]
    rows = accuracy[accuracy["level"].isin(levels)] if "level" in accuracy.columns else accuracy
    if rows.empty or metric not in rows.columns:
        return pd.DataFrame(columns=columns)
    match = keys if baseline_scores is None else [*keys, "model"]
    base = rows if baseline_scores is None else baseline_scores
    if baseline_scores is None:
        base = base[base["model"] == baseline]
    compared = ["n_obs"] if "n_obs" in rows.columns and "n_obs" in base.columns else []
    rows = rows.assign(_key=_match_key(rows, match))
    base = base.assign(_key=_match_key(base, match))[["_key", metric, *compared]]
    base = base.rename(columns={metric: "baseline_value", **{c: f"baseline_{c}" for c in compared}})
    out = rows.merge(base.drop_duplicates("_key"), on="_key", how="left")
    out["value"] = out[metric].astype(float)
    out["baseline_value"] = out["baseline_value"].astype(float)
    same = pd.Series(True, index=out.index)
    for column in compared:
        same &= out[column].astype(float) == out[f"baseline_{column}"].astype(float)
    out["baseline_value"] = out["baseline_value"].where(same)
    denominator = out["baseline_value"].where(out["baseline_value"] > 0)
    out["fva"] = 1.0 - out["value"] / denominator
    out["metric"] = metric
    for column in ("item_id", "step"):
        if column not in out:
            out[column] = None
    return out[columns].reset_index(drop=True)


def _match_key(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """One string per row from ``columns`` (None and NaN alike), to match rows across tables."""
    if not columns or frame.empty:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[list(columns)].astype(str).replace({"None": "nan", "<NA>": "nan"}).agg("|".join, axis=1)
