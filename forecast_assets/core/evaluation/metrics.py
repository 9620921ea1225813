"""Forecast accuracy metrics, per item, per client and per horizon step, with their definitions.

Notation: ``y`` actual, ``f`` point forecast, ``f_q`` the forecast of quantile level ``q``,
``e = f - y``. All sums and means run over the scored rows of a group (an item, a client, a horizon
step, ...). Percentages are fractions (0.12, not 12).

Point forecast (computed with :mod:`utilsforecast.losses` where its definition is ours):

- MAE   = mean |e|                                    (utilsforecast ``mae``)
- RMSE  = sqrt(mean e^2)                              (utilsforecast ``rmse``)
- bias  = mean (f - y), positive = over-forecast      (utilsforecast ``bias``)
- WAPE  = sum |e| / sum |y|, NaN when every actual is 0 (utilsforecast ``wape``; fev ``WAPE``)
- MAPE  = mean |e| / |y| over the rows with a NON-ZERO actual only; NaN when there is none
          (utilsforecast ``mape`` turns zero actuals into NaN and skips them; fev ``MAPE`` drops the
          resulting inf/NaN the same way)
- sMAPE = mean 2|e| / (|y| + |f|), on the 0..2 scale of M4 and fev ``SMAPE``, with 0/0 terms
          (actual and forecast both zero: a perfect forecast) counted as 0. utilsforecast
          ``smape`` is the same without the factor 2 (0..1 scale), so we report 2 x its value;
          fev instead drops 0/0 terms from the mean.
- MASE  = mean |e_t| / s_i over the rows, with s_i = mean |y_t - y_{t-7}| over the in-sample
          (training) data of the row's item and cutoff (Hyndman and Koehler, 2006; seasonal
          period m = 7 for daily retail data). For one item and one cutoff this is MAE / s_i; for a
          group of items it is fev's ``MASE`` (a mean of scaled errors over items and time steps,
          ignoring rows whose scale is undefined). Where s_i is undefined (history <= 7 days, or
          a flat history: s_i = 0) the row has no MASE; fev uses a scale of 1.0 for too-short
          history and drops the inf of a zero scale.

Probabilistic forecast (quantile levels ``Q``, |Q| of them; the pinball loss is
``rho_q(y, f_q) = max(q (y - f_q), (q - 1)(y - f_q))``, utilsforecast ``quantile_loss``):

- WQL = sum_t sum_q 2 rho_q(y_t, f_q,t) / (|Q| * sum_t |y_t|)
        This is fev's ``WQL`` (autogluon/fev ``src/fev/metrics.py``: ``_quantile_loss`` is
        ``2 * |(y - f_q) * (1{y <= f_q} - q)|`` = 2 rho_q, and ``WQL`` is ``nanmean(ql) /
        nanmean(|y|)``, which is the expression above), and GIFT-Eval's CRPS approximation
        (gluonts ``mean_weighted_sum_quantile_loss``). NaN when every actual is 0.
- SQL = mean_t [ mean_q 2 rho_q(y_t, f_q,t) ] / s_i
        fev's ``SQL`` (``nanmean`` over quantiles, divided by the item's seasonal error, averaged
        over items and time steps ignoring undefined terms); same scale s_i as MASE.
- coverage_80 = share of actuals inside [f_0.1, f_0.9] (both ends included); 0.8 is calibrated.

The quantile metrics use the quantile columns (``q10``..``q90``) present in the scored frame;
rows missing any of them give NaN WQL/SQL for their group rather than a loss over fewer levels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import utilsforecast.losses as ufl

from forecast_assets.core.forecasting.frame import DEFAULT_QUANTILES, quantile_column

SEASON = 7
ACCURACY_METRICS = ("mae", "rmse", "bias", "wape", "mape", "smape", "mase", "wql", "sql")
LOWER_IS_BETTER = frozenset({"mae", "rmse", "wape", "mape", "smape", "mase", "wql", "sql"})
DEFAULT_INTERVAL = (0.1, 0.9)
LEVEL_KEYS: dict[str, tuple[str, ...]] = {
    "item": ("model", "item_id"),
    "client": ("model",),
    "step": ("model", "step"),
}
_NO_CUTOFF = "__no_cutoff__"  # a column utilsforecast must not find: we group by our own key


def seasonal_scale(history: pd.Series, season: int = SEASON) -> float:
    """In-sample mean absolute seasonal difference: the MASE denominator (NaN if undefined).

    Missing values (stock-out days) are left out of the mean, as fev does with ``nanmean``: a
    difference with an empty-shelf day is not a difference of demand.
    """
    values = np.asarray(history, dtype=float)
    if values.size <= season:
        return float("nan")
    diffs = np.abs(values[season:] - values[:-season])
    diffs = diffs[~np.isnan(diffs)]
    scale = float(np.mean(diffs)) if diffs.size else float("nan")
    return scale if scale > 0 else float("nan")


def seasonal_scales(
    demand: pd.DataFrame, cutoffs: Sequence[pd.Timestamp], season: int = SEASON
) -> pd.DataFrame:
    """The MASE/SQL scale of every item for every cutoff: columns ``item_id, cutoff, scale``.

    Each cutoff only sees the data up to and including it (the training part of its window), so
    no scale uses a value the forecast could not have known. ``demand`` is one row per item and
    day (gap-filled, as ``ts_demand_daily``), so a shift by ``season`` rows is a shift by a week.
    """
    frames = []
    ordered = demand.sort_values(["item_id", "date"])
    if "is_stockout" in ordered.columns:  # stock-out days are missing demand, not zeros
        ordered = ordered.assign(units_sold=ordered["units_sold"].where(ordered["is_stockout"] != 1))
    for cutoff in sorted({pd.Timestamp(c) for c in cutoffs}):
        train = ordered[ordered["date"] <= cutoff]
        if train.empty:
            continue
        scale = train.groupby("item_id", sort=True)["units_sold"].apply(lambda s: seasonal_scale(s, season))
        frames.append(pd.DataFrame({"item_id": scale.index, "cutoff": cutoff, "scale": scale.to_numpy()}))
    if not frames:
        return pd.DataFrame(
            {
                "item_id": pd.Series(dtype=object),
                "cutoff": pd.Series(dtype="datetime64[ns]"),
                "scale": pd.Series(dtype=float),
            }
        )
    return pd.concat(frames, ignore_index=True)


def pinball_loss(actual: np.ndarray, forecast: np.ndarray, q: float) -> np.ndarray:
    """Element-wise pinball (quantile) loss rho_q(y, f) = max(q (y - f), (q - 1)(y - f))."""
    delta = np.asarray(actual, dtype=float) - np.asarray(forecast, dtype=float)
    return np.maximum(q * delta, (q - 1) * delta)


def coverage_column(interval: tuple[float, float] = DEFAULT_INTERVAL) -> str:
    """Name of the coverage metric of a central interval: (0.1, 0.9) -> ``coverage_80``."""
    return f"coverage_{round((interval[1] - interval[0]) * 100)}"


def metric_columns(interval: tuple[float, float] = DEFAULT_INTERVAL) -> list[str]:
    """The metric columns of :func:`score_forecasts`, in order."""
    return [*ACCURACY_METRICS, coverage_column(interval)]


def point_metrics(actual: np.ndarray, forecast: np.ndarray, scale: float = float("nan")) -> dict[str, float]:
    """MAE, RMSE, bias, WAPE and MASE of one series (or one pooled set of errors)."""
    y = np.asarray(actual, dtype=float)
    f = np.asarray(forecast, dtype=float)
    err = f - y
    mae = float(np.mean(np.abs(err)))
    denominator = float(np.sum(np.abs(y)))
    return {
        "mae": mae,
        "rmse": float(np.sqrt(np.mean(err**2))),
        "bias": float(np.mean(err)),
        "wape": float(np.sum(np.abs(err)) / denominator) if denominator > 0 else float("nan"),
        "mase": mae / scale if scale and not np.isnan(scale) else float("nan"),
    }


def _present_quantiles(frame: pd.DataFrame, quantiles: Sequence[float]) -> list[tuple[float, str]]:
    return [(q, quantile_column(q)) for q in quantiles if quantile_column(q) in frame.columns]


def _utilsforecast_point(frame: pd.DataFrame, group_id: np.ndarray) -> pd.DataFrame:
    """MAE, RMSE, bias, WAPE, MAPE and sMAPE per group id, computed by utilsforecast."""
    df = pd.DataFrame(
        {
            "unique_id": group_id,
            "y": frame["actual"].to_numpy(dtype=float),
            "point": frame["point"].to_numpy(dtype=float),
        }
    )
    out = pd.DataFrame({"unique_id": np.unique(group_id)})
    for name, loss in (
        ("mae", ufl.mae),
        ("rmse", ufl.rmse),
        ("bias", ufl.bias),
        ("wape", ufl.wape),
        ("mape", ufl.mape),
        ("smape", ufl.smape),
    ):
        result = loss(df, ["point"], cutoff_col=_NO_CUTOFF).rename(columns={"point": name})
        out = out.merge(result, on="unique_id", how="left")
    out["smape"] = 2.0 * out["smape"]  # utilsforecast's 0..1 scale -> the 0..2 scale of M4 / fev
    return out


def score_forecasts(
    scored: pd.DataFrame,
    by: Sequence[str],
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    interval: tuple[float, float] = DEFAULT_INTERVAL,
) -> pd.DataFrame:
    """Every metric of the module docstring for each group of ``scored`` rows.

    ``scored`` has ``actual``, ``point``, the grouping columns ``by``, optionally the quantile
    columns (``q10``..``q90``) and ``scale`` (the row's in-sample seasonal scale, see
    :func:`seasonal_scales`; MASE and SQL are NaN without it). Returns ``by``, ``n_obs`` and
    :func:`metric_columns`, one row per group, sorted by ``by``.
    """
    by = list(by)
    columns = [*by, "n_obs", *metric_columns(interval)]
    if scored.empty:
        return pd.DataFrame(columns=columns)
    frame = scored.reset_index(drop=True)
    group_id = frame.groupby(by, sort=True, dropna=False).ngroup().to_numpy()
    y = frame["actual"].to_numpy(dtype=float)
    f = frame["point"].to_numpy(dtype=float)
    scale = frame["scale"].to_numpy(dtype=float) if "scale" in frame else np.full(len(frame), np.nan)
    scale = np.where(scale > 0, scale, np.nan)

    present = _present_quantiles(frame, quantiles)
    if present:
        losses = np.column_stack(
            [2.0 * pinball_loss(y, frame[col].to_numpy(dtype=float), q) for q, col in present]
        )
        row_ql = losses.mean(axis=1)  # NaN where any level is missing
    else:
        row_ql = np.full(len(frame), np.nan)
    lo, hi = (quantile_column(q) for q in interval)
    if lo in frame and hi in frame:
        lower, upper = frame[lo].to_numpy(dtype=float), frame[hi].to_numpy(dtype=float)
        within = ((lower <= y) & (y <= upper)).astype(float)
        inside = np.where(np.isnan(lower) | np.isnan(upper), np.nan, within)
    else:
        inside = np.full(len(frame), np.nan)

    terms = pd.DataFrame(
        {
            "group_id": group_id,
            "abs_y": np.abs(y),
            "scaled_err": np.abs(f - y) / scale,
            "row_ql": row_ql,
            "ql_missing": np.isnan(row_ql).astype(int),
            "scaled_ql": row_ql / scale,
            "inside": inside,
        }
    )
    grouped = terms.groupby("group_id", sort=True)
    agg = pd.DataFrame(
        {
            "n_obs": grouped.size(),
            "sum_abs_y": grouped["abs_y"].sum(),
            "sum_ql": grouped["row_ql"].sum(),
            "ql_missing": grouped["ql_missing"].sum(),
            "mase": grouped["scaled_err"].mean(),  # mean skips the rows without a scale
            "sql": grouped["scaled_ql"].mean(),
            "coverage": grouped["inside"].mean(),
        }
    )
    agg["wql"] = np.where(
        (agg["ql_missing"] == 0) & (agg["sum_abs_y"] > 0), agg["sum_ql"] / agg["sum_abs_y"], np.nan
    )
    agg.loc[agg["ql_missing"] > 0, "sql"] = np.nan
    point = _utilsforecast_point(frame, group_id).set_index("unique_id")
    keys = frame[by].groupby(group_id, sort=True).first()
    out = keys.join(agg[["n_obs"]]).join(point).join(agg[["mase", "wql", "sql", "coverage"]])
    out = out.rename(columns={"coverage": coverage_column(interval)})
    return out.reset_index(drop=True)[columns]


def accuracy_by_level(
    scored: pd.DataFrame,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    levels: Sequence[str] = ("item", "client", "step"),
    keys: Sequence[str] = (),
    interval: tuple[float, float] = DEFAULT_INTERVAL,
) -> pd.DataFrame:
    """Metrics per model and item (``level='item'``), per model over the client's items
    (``'client'``) and per model and horizon step (``'step'``), stacked in one long table.

    ``scored`` needs model, item_id, actual, point (and ``step`` for the step level, else
    ``date`` and ``cutoff`` to derive it: step = (date - cutoff).days). ``keys`` are extra
    grouping columns kept in every level (``("as_of",)`` for live accuracy). Columns: level,
    ``keys``, model, item_id (None outside the item level), step (None outside the step level),
    n_obs, :func:`metric_columns`.
    """
    unknown = set(levels) - set(LEVEL_KEYS)
    if unknown:
        raise ValueError(f"unknown accuracy levels {sorted(unknown)}; choose from {sorted(LEVEL_KEYS)}")
    frame = scored
    if "step" in levels and "step" not in frame.columns:
        frame = frame.assign(step=(pd.to_datetime(frame["date"]) - pd.to_datetime(frame["cutoff"])).dt.days)
    columns = ["level", *keys, "model", "item_id", "step", "n_obs", *metric_columns(interval)]
    parts = []
    for level in levels:
        part = score_forecasts(frame, [*keys, *LEVEL_KEYS[level]], quantiles, interval)
        if part.empty:
            continue
        part.insert(0, "level", level)
        for column in ("item_id", "step"):
            if column not in part:
                part[column] = None
        parts.append(part[columns])
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    out["step"] = out["step"].astype("Int64")
    return out
