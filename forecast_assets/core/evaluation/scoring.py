"""Backtest and live evaluation, the champion model per item, and forecast value added.

- Backtest: every model forecasts from one or more cutoffs
  (:mod:`forecast_assets.core.forecasting.backtest`); the forecasts are scored against what sold,
  with every metric of :mod:`forecast_assets.core.evaluation.metrics`, per item, client and step.
- Live accuracy: forecasts stored at earlier ``as_of`` dates are scored once their dates have
  actuals, so accuracy is tracked on forecasts nobody could have tuned to the outcome.
- Champion per item, with a champion-challenger rule: a challenger replaces the incumbent only when
  it beats it by a relative margin on the selection metric, so the served model does not flip on
  noise between runs. Without an incumbent the best model wins; items no model could be scored on
  keep their incumbent or fall back to the first available model in :data:`FALLBACK_ORDER`, which
  also breaks ties.
- Forecast value added (Gilliland, 2013): FVA = 1 - metric(model) / metric(seasonal_naive), so
  0.25 means 25% less error than the seasonal naive forecast, 0 no value added, and a negative
  value that the model does worse than the naive forecast it must beat.

Stock-out days are left out of every score: the shelf was empty, so what sold is not demand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
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

FALLBACK_ORDER = (
    "chronos-2",
    "chronos-bolt",
    "auto_ets",
    "seasonal_naive",
    "moving_average_7",
    "historic_average",
)
BASELINE_MODEL = "seasonal_naive"
_LABELS = {"smape": "sMAPE"}


def scored_rows(
    forecasts: pd.DataFrame,
    demand: pd.DataFrame,
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES,
    season: int = SEASON,
    origin_column: str = "cutoff",
) -> pd.DataFrame:
    """Forecast rows with their actual, step and in-sample seasonal scale (stock-outs excluded).

    The scale of a row is that of its item from the data up to the row's origin
    (:func:`~forecast_assets.core.evaluation.metrics.seasonal_scales`). This is the frame the metrics, the
    residual drift check and the plots take.
    """
    scored = attach_actuals(forecasts, demand, quantiles, origin_column=origin_column)
    if scored.empty:
        return scored.assign(scale=pd.Series(dtype=float))
    scales = seasonal_scales(demand, list(scored["cutoff"].unique()), season)
    return scored.merge(scales, on=["item_id", "cutoff"], how="left")


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
) -> pd.DataFrame:
    """Accuracy of forecasts made at earlier ``as_of`` dates, on the dates that now have actuals.

    ``forecasts`` holds stored forecast rows (as_of, model, item_id, date, point, quantiles; rows
    of another ``kind`` than ``'forecast'`` are ignored when the column is there); ``demand`` holds
    the actuals known now. Only rows dated up to the latest actual are scored, so a forecast whose
    horizon is still partly in the future is scored on its elapsed steps (``n_obs`` says how
    many). Grouped by ``as_of`` and model (level ``client``), plus item (``item``) and horizon step
    (``step``, counted from ``as_of``). Scales come from the data up to each ``as_of``.
    """
    rows = forecasts
    if "kind" in rows.columns:
        rows = rows[rows["kind"] == "forecast"]
    rows = rows.assign(date=pd.to_datetime(rows["date"]), as_of=pd.to_datetime(rows["as_of"]))
    latest = pd.to_datetime(demand["date"]).max() if not demand.empty else None
    if latest is not None:
        rows = rows[rows["date"] <= latest]
    scored = scored_rows(rows, demand, quantiles, season, origin_column="as_of")
    return accuracy_by_level(scored, quantiles, levels, keys=("as_of",), interval=interval)


def _label(metric: str) -> str:
    return _LABELS.get(metric, metric.upper())


def _fallback_rank(model: str) -> int:
    return FALLBACK_ORDER.index(model) if model in FALLBACK_ORDER else len(FALLBACK_ORDER)


def _incumbent_map(incumbents: Mapping[str, str] | pd.DataFrame | None) -> dict[str, str]:
    if incumbents is None:
        return {}
    if isinstance(incumbents, pd.DataFrame):
        column = "champion_model" if "champion_model" in incumbents.columns else "model"
        frame = incumbents.dropna(subset=[column])
        return dict(zip(frame["item_id"], frame[column], strict=True))
    return {item: model for item, model in incumbents.items() if model}


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def choose_champions(
    accuracy: pd.DataFrame,
    items: list[str],
    available_models: dict[str, set[str]],
    metric: str = "mae",
    incumbents: Mapping[str, str] | pd.DataFrame | None = None,
    margin: float = 0.0,
) -> pd.DataFrame:
    """One champion per item among the models that forecast the item now, with the reason.

    ``accuracy`` has ``level='item'`` rows with model, item_id and the ``metric`` column (lower is
    better: mae, rmse, wape, mape, smape, mase, wql, sql). ``available_models`` maps item_id to the
    models with a future forecast for it, so a champion always has a forecast to serve.
    ``incumbents`` maps item_id to the previous champion (a mapping, or a frame with item_id and
    champion_model); items without one get the best model. A challenger (the best-ranked other
    model) replaces an incumbent only if ``(incumbent - challenger) / incumbent >= margin`` and it
    is strictly better; ``margin=0.05`` asks for 5% less error. Ties rank by
    :data:`FALLBACK_ORDER`, then by name. Returns item_id, champion_model, selection_metric,
    selection_score (the champion's score), previous_champion, challenger_model,
    challenger_score, improvement (relative, of the best challenger over the incumbent), reason.
    """
    metric = metric.lower()
    if metric not in LOWER_IS_BETTER:
        raise ValueError(f"champion metric must be one of {sorted(LOWER_IS_BETTER)}, got {metric!r}")
    if not 0 <= margin < 1:
        raise ValueError(f"champion margin must be in [0, 1), got {margin}")
    label = _label(metric)
    per_item = accuracy[accuracy["level"] == "item"] if "level" in accuracy.columns else accuracy
    if metric not in per_item.columns:
        per_item = per_item.assign(**{metric: np.nan})
    if per_item.duplicated(["item_id", "model"]).any():
        raise ValueError("accuracy has several item rows for one (item_id, model); pass one evaluation")
    score_of = {(r.item_id, r.model): float(getattr(r, metric)) for r in per_item.itertuples(index=False)}
    incumbent_of = _incumbent_map(incumbents)

    rows = []
    for item in items:
        candidates = set(available_models.get(item, set()))
        ranked = sorted(
            (score_of[(item, m)], _fallback_rank(m), m)
            for m in candidates
            if (item, m) in score_of and not np.isnan(score_of[(item, m)])
        )
        incumbent = incumbent_of.get(item)
        incumbent_score = score_of.get((item, incumbent), float("nan")) if incumbent else float("nan")
        best = ranked[0][2] if ranked else None
        challenger = next((m for _, _, m in ranked if m != incumbent), None)
        challenger_score = score_of[(item, challenger)] if challenger else float("nan")
        improvement = float("nan")
        if challenger and not np.isnan(incumbent_score):
            improvement = (
                (incumbent_score - challenger_score) / incumbent_score if incumbent_score > 0 else 0.0
            )

        if not ranked:
            if incumbent in candidates:
                champion, reason = incumbent, f"no holdout score: kept incumbent {incumbent}"
            else:
                champion = next((m for m in FALLBACK_ORDER if m in candidates), None)
                if champion is None and candidates:
                    champion = sorted(candidates)[0]
                reason = "no holdout score: fallback order"
        elif incumbent is None:
            champion, reason = best, f"lowest holdout {label}"
        elif incumbent not in candidates:
            champion = best
            reason = f"incumbent {incumbent} has no current forecast; lowest holdout {label}"
        elif np.isnan(incumbent_score):
            champion = best
            reason = f"incumbent {incumbent} has no holdout {label}; lowest holdout {label}"
        elif challenger is None:
            champion, reason = incumbent, f"kept incumbent {incumbent}: no challenger scored"
        elif challenger_score < incumbent_score and improvement >= margin:
            champion = challenger
            reason = (
                f"challenger {challenger} replaced incumbent {incumbent}: {_pct(improvement)} better on "
                f"{label}, margin {margin * 100:g}%"
            )
        elif challenger_score < incumbent_score:
            champion = incumbent
            reason = (
                f"kept incumbent {incumbent}: challenger {challenger} only {_pct(improvement)} better "
                f"on {label}, margin {margin * 100:g}%"
            )
        else:
            champion = incumbent
            reason = f"kept incumbent {incumbent}: lowest holdout {label}"
        champion_score = score_of.get((item, champion), float("nan")) if champion else float("nan")
        rows.append(
            {
                "item_id": item,
                "champion_model": champion,
                "selection_metric": metric,
                "selection_score": None if np.isnan(champion_score) else champion_score,
                "previous_champion": incumbent,
                "challenger_model": challenger,
                "challenger_score": challenger_score,
                "improvement": improvement,
                "reason": reason,
            }
        )
    columns = [
        "item_id",
        "champion_model",
        "selection_metric",
        "selection_score",
        "previous_champion",
        "challenger_model",
        "challenger_score",
        "improvement",
        "reason",
    ]
    return pd.DataFrame(rows, columns=columns)


def with_champions(accuracy: pd.DataFrame, champions: pd.DataFrame) -> pd.DataFrame:
    """One evaluation table: accuracy rows flagged ``is_champion``, plus a row for each champion
    chosen without a holdout score (so every item's champion is in the table)."""
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
            "champion_reason": unscored["reason"],
            "is_champion": True,
        }
    )
    return pd.concat([marked, extra], ignore_index=True) if not extra.empty else marked


def forecast_value_added(
    accuracy: pd.DataFrame,
    metric: str = "mae",
    baseline: str = BASELINE_MODEL,
    levels: Sequence[str] = ("item", "client"),
) -> pd.DataFrame:
    """FVA = 1 - metric(model) / metric(baseline) for every model, per item and per client.

    Positive: the model removes that share of the naive forecast's error; 0: no value added
    (the baseline's own rows); negative: worse than naive. NaN where the baseline was not scored
    or its error is 0 (nothing to improve on). The client level compares the client-level
    metrics as given, i.e. each model over the items it was scored on. ``accuracy`` is a table
    of :func:`evaluate_backtest` or :func:`live_accuracy` (extra keys such as ``as_of`` are kept
    and matched). Returns level, the keys, model, item_id, step, metric, value, baseline_value, fva.
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
    key = rows[keys].astype(str).agg("|".join, axis=1) if keys else pd.Series("", index=rows.index)
    rows = rows.assign(_key=key)
    base = rows.loc[rows["model"] == baseline, ["_key", metric]].rename(columns={metric: "baseline_value"})
    out = rows.merge(base.drop_duplicates("_key"), on="_key", how="left")
    out["value"] = out[metric].astype(float)
    out["baseline_value"] = out["baseline_value"].astype(float)
    denominator = out["baseline_value"].where(out["baseline_value"] > 0)
    out["fva"] = 1.0 - out["value"] / denominator
    out["metric"] = metric
    for column in ("item_id", "step"):
        if column not in out:
            out[column] = None
    return out[columns].reset_index(drop=True)


CLIENT_KEY = "__client__"


def choose_client_champions(
    accuracy: pd.DataFrame,
    items: list[str],
    available_models: dict[str, set[str]],
    metric: str = "mae",
    incumbents: Mapping[str, str] | pd.DataFrame | None = None,
    margin: float = 0.0,
    min_coverage: float = 0.5,
) -> pd.DataFrame:
    """One champion model for the whole client, served to every item that has its forecast.

    Why: picking a model per item from a few backtest windows chases noise. On the M5 validation
    window (docs/accuracy.md) per-item choice cost 2-3% WAPE against the single best model, and
    even a 20% challenger margin did not recover it. So the models are ranked on the mean of
    their item-level ``metric`` over the items every candidate was scored on (candidates: models
    with a current forecast for at least ``min_coverage`` of the items), and the champion-challenger
    rule of :func:`choose_champions` runs once at the client level against the previous client
    champion (the most common previous item champion). Items the client champion does not
    forecast (e.g. too short for Chronos) get their own best model, with the reason said.
    Same columns as :func:`choose_champions`.
    """
    per_item = accuracy[accuracy["level"] == "item"] if "level" in accuracy.columns else accuracy
    coverage = pd.Series(
        [m for item in items for m in available_models.get(item, set())], dtype=object
    ).value_counts()
    candidates = set(coverage[coverage >= min_coverage * max(len(items), 1)].index)
    scored = per_item[per_item["model"].isin(candidates)].dropna(subset=[metric])
    common = set(items)
    for model in candidates:
        common &= set(scored.loc[scored["model"] == model, "item_id"])
    pooled = scored[scored["item_id"].isin(common)].groupby("model")[metric].mean()
    client_accuracy = pd.DataFrame(
        {"level": "item", "model": pooled.index, "item_id": CLIENT_KEY, metric: pooled.to_numpy()}
    )
    previous = _incumbent_map(incumbents)
    counts = pd.Series(list(previous.values()), dtype=object).value_counts()
    incumbent = None
    if len(counts):
        top = counts[counts == counts.max()].index
        incumbent = sorted(top, key=lambda m: (_fallback_rank(m), m))[0]
    client = choose_champions(
        client_accuracy,
        [CLIENT_KEY],
        {CLIENT_KEY: candidates},
        metric=metric,
        incumbents={CLIENT_KEY: incumbent} if incumbent else None,
        margin=margin,
    ).iloc[0]
    model = client["champion_model"]
    per_item_choice = choose_champions(accuracy, items, available_models, metric=metric)
    rows = []
    for item in items:
        if model is not None and model in available_models.get(item, set()):
            row = client.to_dict() | {
                "item_id": item,
                "previous_champion": previous.get(item),
                "reason": f"client champion {model} ({client['reason']}, on {len(common)} common items)",
            }
        else:
            row = per_item_choice[per_item_choice["item_id"] == item].iloc[0].to_dict()
            row["reason"] = f"client champion {model} has no forecast for this item; {row['reason']}"
        rows.append(row)
    return pd.DataFrame(rows, columns=per_item_choice.columns)
