"""Expected demand and its error spread, the two inputs of the stocking policy.

A stocking policy adds up expected demand over the days it must cover, so it needs each day's
*mean*, not its median: for slow movers the median is 0 (Poisson(0.5) sells nothing on 61% of
days) while the mean is 0.5 a day, and an order-up-to level built on medians never covers them.
Where the forecast comes from:

- a ``mean`` column, when the model writes one;
- else ``point`` when the model's point forecast is a mean (the statsforecast baselines: ETS,
  Theta, Croston, moving and historic averages, seasonal naive);
- else the mean of the forecast distribution estimated from its quantile grid
  (:func:`mean_from_quantiles`; Chronos' ``point`` is its median);
- else ``point`` as the last resort.

The error spread behind the ``sigma`` safety stock is the root mean square of the backtest
errors of that same expected demand (:func:`forecast_error_sigma`): unlike a standard deviation
it keeps a systematic under- or over-forecast in the spread instead of removing it. How much of
it is shared by every day of a forecast (a level error, which does not average out over L + R)
comes from the cumulative error of each backtest window (:func:`forecast_error_correlation`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from forecast_assets.core.classification import CLASS_WINDOW_DAYS
from forecast_assets.core.forecasting.baselines import MODEL_ALIASES
from forecast_assets.core.forecasting.frame import quantile_column

# Models whose ``point`` is the mean of their forecast distribution (statsforecast's forecasts
# are conditional means); every other model's point is taken as a median.
MEAN_POINT_MODELS = frozenset(MODEL_ALIASES.values())

_QUANTILE_COLUMN = re.compile(r"^q(\d{2})$")


def demand_window_start(
    forecasts: pd.DataFrame, as_of: pd.Timestamp, window_days: int = CLASS_WINDOW_DAYS
) -> pd.Timestamp:
    """The day before the first day of demand the inventory step reads: the earlier of the item
    classes' window (``window_days`` up to ``as_of``) and the first backtest day of ``forecasts``,
    whose actuals give the error spread. Nothing before it is read, so a client with years of
    history costs a year's rows here, not all of them."""
    start = pd.Timestamp(as_of) - pd.Timedelta(days=window_days)
    backtest = forecasts.loc[forecasts["kind"] == "backtest", "date"]
    if len(backtest):
        start = min(start, pd.Timestamp(backtest.min()) - pd.Timedelta(days=1))
    return start


def quantile_levels_in(frame: pd.DataFrame) -> tuple[float, ...]:
    """The quantile levels of a forecast frame, read from its ``q10``..``q90`` column names."""
    levels = [int(m.group(1)) / 100 for c in frame.columns if (m := _QUANTILE_COLUMN.match(str(c)))]
    return tuple(sorted(levels))


def mean_from_quantiles(quantiles: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """Mean of each row's distribution from its quantiles: the integral of the quantile function.

    Between the grid levels the quantile function is linear (trapezoid rule). Beyond the top level
    p_n it gets an exponential tail, Q(p) = q_n + theta ln((1 - p_n) / (1 - p)), whose integral is
    (1 - p_n)(q_n + theta); theta is the least-squares slope of q_p - q50 on ln(0.5 / (1 - p)) over
    the levels above the median. Demand is right-skewed, and an exponential tail errs by under 2%
    on Poisson, negative binomial, gamma and normal rows where a normal tail misses skewed ones by
    up to 10%. Below the lowest level p_1 the tail is normal with the spread of the lower
    quantiles, floored at zero demand. A side without levels is flat (a median alone is its own
    mean). Rows are clipped at zero first.

    The grid cannot tell where a discrete distribution jumps between two levels, so for
    Poisson(0.5) (deciles 0,0,0,0,0,0,1,1,1) the estimate is 0.43: every Poisson mean between
    0.36 and 0.51 has those deciles. And a row whose every quantile is 0 (an item selling on
    fewer than one day in ten) has an estimated mean of 0; only a ``mean`` column helps there.
    """
    levels = np.asarray(levels, dtype=float)
    if levels.size == 0 or 0.5 not in levels:
        raise ValueError("the quantile levels must include the median 0.5")
    order = np.argsort(levels)
    levels = levels[order]
    q = np.clip(np.asarray(quantiles, dtype=float).reshape(-1, levels.size)[:, order], 0.0, None)
    median = q[:, [int(np.flatnonzero(levels == 0.5)[0])]]
    body = np.trapezoid(q, levels, axis=1) if levels.size > 1 else np.zeros(q.shape[0])
    upper, lower = levels > 0.5, levels < 0.5
    theta = np.zeros(q.shape[0])
    if upper.any():
        x = np.log(0.5 / (1 - levels[upper]))
        theta = np.clip((q[:, upper] - median) @ x / float(x @ x), 0.0, None)
    top = (1 - levels[-1]) * (q[:, -1] + theta)
    bottom = levels[0] * q[:, 0]  # flat below the lowest level when there is no lower spread
    if lower.any():
        z = norm.ppf(levels[lower])
        spread = np.clip((q[:, lower] - median) @ z / float(z @ z), 0.0, None)
        bottom = np.clip(bottom - spread * normal_loss(-float(norm.ppf(levels[0]))), 0.0, bottom)
    return body + top + bottom


def normal_loss(k: float) -> float:
    """Standard normal loss function G(k) = E[(Z - k)+] = phi(k) - k (1 - Phi(k)), from scipy."""
    return float(norm.pdf(k) - k * norm.sf(k))


def expected_daily_demand(rows: pd.DataFrame, model: str | None, levels: Sequence[float] = ()) -> np.ndarray:
    """Each forecast row's expected (mean) demand; the module docstring gives the order of sources."""
    if "mean" in rows.columns and not rows["mean"].isna().any():
        return rows["mean"].to_numpy(float)
    if model in MEAN_POINT_MODELS:
        return rows["point"].to_numpy(float)
    qcols = [quantile_column(q) for q in levels]
    if 0.5 in levels and set(qcols) <= set(rows.columns) and not rows[qcols].isna().any(axis=None):
        return mean_from_quantiles(rows[qcols].to_numpy(float), levels)
    return rows["point"].to_numpy(float)


def forecast_error_sigma(backtest: pd.DataFrame, actual: str = "units_sold") -> pd.Series:
    """item_id -> root mean square daily error of the expected demand over the backtest.

    ``backtest``: the champion's backtest rows (item_id, model, point, quantile columns) with the
    ``actual`` demand; rows flagged ``is_stockout`` are left out (a stock-out day's sales are not
    its demand). The expected demand is the one the policy uses (:func:`expected_daily_demand`),
    so the spread measures the misses of the number that sets the stock. RMSE^2 = bias^2 +
    variance: an item forecast 1 a day too low keeps that 1 in its spread, where a standard
    deviation of the errors would drop it.
    """
    if "is_stockout" in backtest.columns:
        backtest = backtest[backtest["is_stockout"].fillna(0) == 0]
    levels = quantile_levels_in(backtest)
    sigma = {}
    for item, rows in backtest.groupby("item_id", sort=True):
        model = rows["model"].iloc[0] if "model" in rows.columns else None
        errors = expected_daily_demand(rows, model, levels) - rows[actual].to_numpy(float)
        errors = errors[~np.isnan(errors)]
        if errors.size:
            sigma[item] = float(np.sqrt(np.mean(errors**2)))
    return pd.Series(sigma, dtype=float, name="sigma_daily_demand")


def forecast_error_correlation(
    backtest: pd.DataFrame, groups: Mapping[str, object] | None = None, actual: str = "units_sold"
) -> pd.Series:
    """item_id -> k, the share of the daily squared error that is shared by a whole backtest window.

    Why: the exposure L + R adds up days, and sigma_d sqrt(L + R) assumes their errors are
    independent. They are not: an ETS or Croston level that is off is off on every day it
    forecasts, so the miss of the L + R total grows like n, not sqrt(n). The errors are modelled
    as e_t = b + eps_t within one window (cutoff): b the window's level error, shared, of variance
    k sigma_d^2; eps_t independent, (1 - k) sigma_d^2. The cumulative error over n days then has
    mean square

        E[(sum of n errors)^2] = sigma_d^2 (n + k n (n - 1)),

    (:func:`.policy.exposure_sigma`), the sqrt rule when k = 0, perfectly shared errors when k = 1.

    Estimated from the cumulative backtest error C_w = sum of the m_w errors of window w (the
    champion's expected demand, stock-out days left out, as :func:`forecast_error_sigma`): each
    window gives C_w^2 / sigma_d^2 - m_w, an unbiased estimate of k m_w (m_w - 1). One item has
    only a few windows (one chi-square draw each), far too noisy for a quantile, so k is pooled
    over the items of a group (``groups``: item_id -> e.g. its demand class, ETS and Croston
    levels err differently; one group when None):

        k = sum over items and windows of (C_w^2 / sigma_d^2 - m_w) / sum of m_w (m_w - 1),

    clipped to [0, 1]. The model, not the raw cumulative error, carries it to the exposure, so a
    window shorter or longer than L + R still counts. Without a ``cutoff`` column (windows unknown)
    every k is 0: the sqrt rule.
    """
    if "is_stockout" in backtest.columns:
        backtest = backtest[backtest["is_stockout"].fillna(0) == 0]
    if "cutoff" not in backtest.columns or backtest.empty:
        return pd.Series(0.0, index=sorted(backtest["item_id"].unique()), name="error_correlation")
    levels = quantile_levels_in(backtest)
    excess: dict[object, float] = {}
    pairs: dict[object, float] = {}
    items = []
    for item, rows in backtest.groupby("item_id", sort=True):
        model = rows["model"].iloc[0] if "model" in rows.columns else None
        errors = rows[actual].to_numpy(float) - expected_daily_demand(rows, model, levels)
        keep = ~np.isnan(errors)
        items.append(item)
        mse = float(np.mean(errors[keep] ** 2)) if keep.any() else 0.0
        if mse <= 0:
            continue
        by_window = pd.DataFrame({"w": rows["cutoff"].to_numpy()[keep], "e": errors[keep]}).groupby("w")["e"]
        total, m = by_window.sum().to_numpy(), by_window.size().to_numpy(float)
        group = None if groups is None else groups.get(item)
        excess[group] = excess.get(group, 0.0) + float(np.sum(total**2 / mse - m))
        pairs[group] = pairs.get(group, 0.0) + float(np.sum(m * (m - 1)))
    k = {g: float(np.clip(excess[g] / pairs[g], 0.0, 1.0)) if pairs[g] > 0 else 0.0 for g in excess}
    return pd.Series(
        [k.get(None if groups is None else groups.get(i), 0.0) for i in items],
        index=items,
        dtype=float,
        name="error_correlation",
    )
