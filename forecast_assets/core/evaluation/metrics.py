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

from collections.abc import Collection, Hashable, Mapping, Sequence

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
MIN_COVERAGE = 0.5  # the share of the series a model must cover to join the common comparison
POOLED_LEVELS = frozenset({"client", "step"})


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


def comparison_sets(
    covered: Mapping[str, Collection[Hashable]], min_coverage: float = MIN_COVERAGE
) -> dict[str, frozenset[Hashable]]:
    """Which of its series each model's pooled (client, step) accuracy is computed on.

    ``covered`` maps each model to the series it was scored on (a series: an item at a backtest
    cutoff). Pooling each model over its own series compares models on different items: Croston
    runs on intermittent items only, Theta on long histories only, and a model scored on the easy
    items looks better than one scored on all. So the models covering at least ``min_coverage``
    of all the series (the union) are compared on the series every one of them covers; a model
    covering fewer (a minority model such as croston_sba) keeps its own series, and the row's
    ``n_items`` shows that it stands on other items. When the covering models share no series,
    or none covers enough, every model keeps its own. The same floor (half the items) decides
    the client champion's candidates in
    :func:`forecast_assets.core.evaluation.champions.choose_client_champions`.
    """
    if not 0 < min_coverage <= 1:
        raise ValueError(f"min_coverage must be in (0, 1], got {min_coverage}")
    sets = {model: frozenset(series) for model, series in covered.items()}
    universe = frozenset().union(*sets.values()) if sets else frozenset()
    majority = [m for m, series in sets.items() if series and len(series) >= min_coverage * len(universe)]
    common = frozenset.intersection(*(sets[m] for m in majority)) if majority else frozenset()
    if not common:
        return sets
    return {model: common if model in majority else series for model, series in sets.items()}


def _series_columns(frame: pd.DataFrame) -> list[str]:
    """A series is an item at one origin (cutoff); without a cutoff column, an item."""
    return ["item_id", "cutoff"] if "cutoff" in frame.columns else ["item_id"]


def comparison_rows(
    scored: pd.DataFrame,
    keys: Sequence[str] = (),
    min_coverage: float | None = MIN_COVERAGE,
    forecasts_of: str | None = None,
) -> pd.DataFrame:
    """The scored rows each model's accuracy is computed from, per group of ``keys``.

    Each model keeps the rows of its :func:`comparison_sets` series (``min_coverage=None``: all
    its own series, as the item level does). With ``forecasts_of`` the rows are instead that
    model's forecasts of the same series, labelled with the model whose series they are: the
    reference (e.g. the seasonal naive baseline) scored on exactly each model's items, for
    forecast value added. Series the reference did not forecast are simply absent, so its
    ``n_obs`` then falls short of the model's.
    """
    series = _series_columns(scored)
    keys = list(keys)
    parts = []
    for _, group in scored.groupby(keys, sort=False, dropna=False) if keys else [((), scored)]:
        units = group[["model", *series]].drop_duplicates()
        covered = {
            str(model): list(frame[series].itertuples(index=False, name=None))
            for model, frame in units.groupby("model", sort=True)
        }
        chosen = covered if min_coverage is None else comparison_sets(covered, min_coverage)
        wanted = pd.DataFrame(
            [(model, *unit) for model, units_of in chosen.items() for unit in units_of],
            columns=["model", *series],
        ).astype({c: units[c].dtype for c in ["model", *series]})
        if forecasts_of is None:
            parts.append(group.merge(wanted, on=["model", *series], how="inner"))
        else:
            reference = group[group["model"] == forecasts_of].drop(columns=["model"])
            parts.append(reference.merge(wanted, on=series, how="inner"))
    if not parts:
        return scored.iloc[0:0]
    return pd.concat(parts, ignore_index=True)


def accuracy_by_level(
    scored: pd.DataFrame,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    levels: Sequence[str] = ("item", "client", "step"),
    keys: Sequence[str] = (),
    interval: tuple[float, float] = DEFAULT_INTERVAL,
    min_coverage: float = MIN_COVERAGE,
    forecasts_of: str | None = None,
) -> pd.DataFrame:
    """Metrics per model and item (``level='item'``), per model over the client's items
    (``'client'``) and per model and horizon step (``'step'``), stacked in one long table.

    ``scored`` needs model, item_id, actual, point (and ``step`` for the step level, else
    ``date`` and ``cutoff`` to derive it: step = (date - cutoff).days). ``keys`` are extra
    grouping columns kept in every level (``("as_of",)`` for live accuracy); each group of keys
    (one origin) is compared on its own. The client and step levels compare like with like:
    each model is pooled over the series of :func:`comparison_sets` (the items, at each cutoff,
    that every model covering at least ``min_coverage`` of them was scored on; a minority model
    over its own), and ``n_items`` says over how many items a row pools (1 on item rows).
    With ``forecasts_of`` every row holds that model's scores on the row's model's series
    instead (see :func:`comparison_rows`). Columns: level, ``keys``, model, item_id (None
    outside the item level), step (None outside the step level), n_obs, n_items,
    :func:`metric_columns`.
    """
    unknown = set(levels) - set(LEVEL_KEYS)
    if unknown:
        raise ValueError(f"unknown accuracy levels {sorted(unknown)}; choose from {sorted(LEVEL_KEYS)}")
    frame = scored
    if "step" in levels and "step" not in frame.columns:
        frame = frame.assign(step=(pd.to_datetime(frame["date"]) - pd.to_datetime(frame["cutoff"])).dt.days)
    columns = ["level", *keys, "model", "item_id", "step", "n_obs", "n_items", *metric_columns(interval)]
    pooled = None
    parts = []
    for level in levels:
        if level in POOLED_LEVELS:
            if pooled is None:
                pooled = comparison_rows(frame, keys, min_coverage, forecasts_of) if len(frame) else frame
            rows = pooled
        else:
            rows = comparison_rows(frame, keys, None, forecasts_of) if forecasts_of and len(frame) else frame
        by = [*keys, *LEVEL_KEYS[level]]
        part = score_forecasts(rows, by, quantiles, interval)
        if part.empty:
            continue
        n_items = rows.groupby(by, sort=True, dropna=False)["item_id"].nunique().rename("n_items")
        part = part.merge(n_items.reset_index(), on=by, how="left")
        part.insert(0, "level", level)
        for column in ("item_id", "step"):
            if column not in part:
                part[column] = None
        parts.append(part[columns])
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    out["step"] = out["step"].astype("Int64")
    out["n_items"] = out["n_items"].astype("int64")
    return out
