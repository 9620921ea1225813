"""The periodic-review order-up-to (R, S) policy, as small decision functions.

Every R days (the review period) each item is reviewed and, when its inventory position
(on hand + on order) is below the order-up-to level S, ordered up to S (rounded up to whole packs
and the MOQ). The order arrives after the lead time L, and the next order can only arrive R days
after that, so the stock on hand after this review must cover the demand of L + R days: the
*exposure*. Every level is therefore set over L + R (Silver, Pyke and Thomas, *Inventory and
Production Management in Supply Chains*, 4th ed., ch. 6; Chopra and Meindl, *Supply Chain
Management*, 6th ed., ch. 12 for the variable lead time):

- mu = expected demand over L + R, from the forecast's daily *means* (:mod:`.demand`)
- sigma = sqrt(sigma_d^2 (n + k n (n - 1)) + d^2 sigma_L^2), n = L + R (lead time of std
  sigma_L; k the share of the daily error shared by every day, below)
- demand over L + R ~ gamma with mean mu and standard deviation sigma (scipy.stats.gamma): demand
  is non-negative and right-skewed, and a normal puts the upper quantiles of erratic and lumpy
  demand too low; the gamma tends to the normal as the skew 2 sigma / mu vanishes, so the same
  model serves every class (:func:`demand_quantile`)
- order-up-to level S = the service-level quantile of that gamma, never below mu; safety stock
  SS = S - mu, so never negative (:func:`policy_levels`)
- reorder point = S: under periodic review an order is placed whenever the position is below S
- order = S - position, rounded up to packs and MOQ, when positive; else 0
- stock-out probability = P(demand over L + R > position) under the same gamma: the risk of a
  stock-out before the next possible replenishment if nothing is ordered at this review
- expected fill rate at S = 1 - E[(D - S)+] / (d R), the gamma's expected shortage of a review
  cycle over the cycle's expected demand (Silver, Pyke and Thomas, ch. 6, (R, S) with
  backorders; it ignores the shortage already outstanding at the start of the cycle, negligible
  at service levels of 0.9 and above)
- z = Phi^-1(service level) is reported for reference (scipy.stats.norm.ppf); S is not mu + z sigma

The cycle service level met is P(demand over L + R <= S): with backorders, the share of review
cycles in which no demand waits, i.e. the net stock just before the next order arrives is not
negative. ``benchmarks/inventory_simulation.py`` checks it by simulation (docs/inventory.md).

The spread sigma comes from one of two estimates, both reported; ``safety_stock_method`` picks the
one that drives SS, S, the order, the stock-out probability and the fill rate:

- ``sigma``: sigma_d is the root mean square of the champion's daily backtest errors of its
  expected demand (:func:`.demand.forecast_error_sigma`; it keeps the bias a standard deviation
  would drop). Days are not independent: an ETS or Croston level that is off is off on every
  day, so the share k of sigma_d^2 that a backtest window's days share (measured from the
  cumulative backtest error, pooled by demand class: :func:`.demand.forecast_error_correlation`)
  adds up like n^2, the rest like n; k = 0 is the sqrt(n) rule.
- ``quantile``: each day's quantiles are turned into a normal N(mean_t, s_t^2) whose s_t is the
  least-squares fit of q_p - q50 = s_t Phi^-1(p) over the levels p > 0.5 (the upper tail, the
  one a service level above 0.5 needs; the lower quantiles are clipped at zero demand and would
  bias it). Days are independent, so the variance over L + R is the sum of the s_t^2 (fractional
  days pro rata, days beyond the horizon at the horizon mean) plus d^2 sigma_L^2. Adding up
  per-day quantiles instead would assume perfectly correlated days: an upper bound growing like
  n rather than sqrt(n).

``lead_time_demand`` and ``lead_time_demand_quantile`` describe the lead time L alone (what is
consumed before this order arrives, and its service-level gamma quantile under the quantile method);
no decision uses them.

Item classes (ABC, XYZ, Syntetos-Boylan) come from :mod:`forecast_assets.core.classification`.

An item missing a lead time, a stock level, a forecast or the chosen method's spread estimate
gets ``status = 'incomplete'`` and the list of what is missing; the fields whose inputs are
present are still filled, the others stay null rather than guessed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl
from scipy.stats import gamma, norm

from forecast_assets.core.forecasting.frame import quantile_column
from forecast_assets.core.inventory.demand import expected_daily_demand, normal_loss

SAFETY_STOCK_METHODS = ("sigma", "quantile")

_NUMBERS = (
    "service_level",
    "z",
    "lead_time_days",
    "lead_time_std_days",
    "review_period_days",
    "mean_daily_demand",
    "sigma_daily_demand",
    "lead_time_demand",
    "safety_stock",
    "reorder_point",
    "order_up_to_level",
    "on_hand",
    "on_order",
    "inventory_position",
    "days_of_inventory",
    "suggested_order_qty",
    "stockout_probability",
    "quantile_sigma_daily_demand",
    "safety_stock_sigma",
    "safety_stock_quantile",
    "lead_time_demand_quantile",
    "revenue",
    "revenue_share",
    "weekly_demand_cv",
    "adi",
    "demand_size_cv2",
    "exposure_demand",
    "fill_rate",
)
OUTPUT_SCHEMA: dict[str, pl.DataType] = {
    "item_id": pl.Utf8,
    "champion_model": pl.Utf8,
    **dict.fromkeys(_NUMBERS, pl.Float64),
    "stock_date": pl.Date,
    "status": pl.Utf8,
    "missing": pl.Utf8,
    "safety_stock_method": pl.Utf8,
    "abc_class": pl.Utf8,
    "xyz_class": pl.Utf8,
    "demand_class": pl.Utf8,
}
OUTPUT_COLUMNS = list(OUTPUT_SCHEMA)


def service_z(service_level: float) -> float:
    """The standard-normal quantile for a cycle service level, from scipy (not a lookup table)."""
    if not 0 < service_level < 1:
        raise ValueError(f"service level must be in (0, 1), got {service_level}")
    return float(norm.ppf(service_level))


def safety_stock(
    z: float, sigma_d: float, days: float, mean_d: float = 0.0, sigma_lead: float = 0.0
) -> float:
    """z * sqrt(n sigma_d^2 + d^2 sigma_L^2) over n days of independent errors: the textbook normal
    safety stock (Chopra and Meindl, ch. 12), kept as the reference the gamma model tends to."""
    return float(z * exposure_sigma(days, sigma_d, mean_d, sigma_lead))


def exposure_days(lead_time: float, review_period: float) -> float:
    """L + R: the days one review's stock must last, until the order placed at the *next* review
    arrives (an order placed now arrives after L; nothing else can arrive before L + R)."""
    if lead_time < 0 or review_period < 0:
        raise ValueError(f"lead time and review period must be >= 0, got {lead_time}, {review_period}")
    return float(lead_time + review_period)


def exposure_sigma(
    days: float, sigma_d: float, mean_d: float = 0.0, sigma_lead: float = 0.0, correlation: float = 0.0
) -> float:
    """Standard deviation of the forecast error of demand over ``days``, plus the lead-time spread.

    sqrt(sigma_d^2 (n + k n (n - 1)) + d^2 sigma_L^2): daily errors of mean square sigma_d^2 of
    which the share k is a level error shared by every day (:func:`.demand.forecast_error_correlation`),
    so it adds up like n^2 while the rest adds up like n; k = 0 is the sqrt(n) rule of independent
    days. A lead time sigma_L days longer or shorter moves d sigma_L units of demand.
    """
    shared = correlation * days * max(days - 1.0, 0.0)
    return math.sqrt(sigma_d**2 * (days + shared) + (mean_d * sigma_lead) ** 2)


def demand_over(daily: np.ndarray, days: float) -> float:
    """Sum of a daily series over the next ``days``: fractional days pro rata, days beyond the
    horizon at the series mean. Used for demand and, under independence, for daily variances."""
    whole = math.floor(days)
    total = float(np.sum(daily[: min(whole, len(daily))]))
    mean = float(np.mean(daily)) if len(daily) else 0.0
    if whole > len(daily):
        total += mean * (whole - len(daily))
    frac = days - whole
    if frac > 0:
        total += frac * (float(daily[whole]) if whole < len(daily) else mean)
    return total


def quantile_sigma(quantiles: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """Per-row normal standard deviation implied by forecast quantiles (one row per day).

    Least squares through the median: s = sum z_p (q_p - q50) / sum z_p^2 over the levels
    p > 0.5, z_p = Phi^-1(p). Exact when the quantiles are those of a normal; uses only the upper
    tail because that is what a service level above 0.5 needs and the lower quantiles of demand
    are clipped at zero. NaN where no level above the median is available.
    """
    levels = list(levels)
    if 0.5 not in levels:
        raise ValueError("the quantile levels must include the median 0.5")
    upper = [i for i, p in enumerate(levels) if p > 0.5]
    values = np.asarray(quantiles, dtype=float).reshape(-1, len(levels))
    if not upper:
        return np.full(values.shape[0], np.nan)
    z = norm.ppf([levels[i] for i in upper])
    spread = values[:, upper] - values[:, [levels.index(0.5)]]
    return np.clip(spread @ z / float(z @ z), 0.0, None)


@dataclass(frozen=True)
class PolicyLevels:
    """Safety stock and order-up-to level S of one item; the reorder point is S (periodic review:
    any position below S triggers an order at the review)."""

    safety_stock: float
    order_up_to_level: float

    @property
    def reorder_point(self) -> float:
        return self.order_up_to_level


def _gamma(mean: float, spread: float) -> tuple[float, float]:
    """Shape and scale of the gamma with this mean and standard deviation."""
    return mean**2 / spread**2, spread**2 / mean


def demand_quantile(p: float, mean: float, spread: float) -> float:
    """The p-quantile of demand over the exposure: a gamma matched to its mean and spread.

    Demand over L + R is non-negative and right-skewed (negative binomial, zero-inflated, lumpy
    sizes); a normal with the same mean and spread puts its p-quantile too low, most for few,
    skewed days. The gamma has skewness 2 spread / mean, is the negative binomial's continuous
    counterpart, and tends to the normal as the skew vanishes, so one model serves every class.
    With no expected demand the gamma does not exist: N(mean, spread^2). No spread: the mean.
    """
    if spread <= 0:
        return float(mean)
    if mean <= 0:
        return float(norm.ppf(p, mean, spread))
    shape, scale = _gamma(mean, spread)
    return float(gamma.ppf(p, shape, scale=scale))


def policy_levels(exposure_demand: float, spread: float, service_level: float) -> PolicyLevels:
    """S = the service-level quantile of demand over L + R (:func:`demand_quantile`), so that
    P(demand over L + R <= S) is the service level, but never less than the expected demand; the
    safety stock is S - expected demand.

    Why the floor: where the spread is many times the mean (a lumpy item whose forecast errors
    dwarf its forecast), the matched gamma puts nearly all its mass at zero and its service-level
    quantile falls below the mean, near zero. Stocking that meets the cycle service level on paper
    only: the expected fill rate is about zero (the scale benchmark's lumpy items, served a
    median-like forecast, got S = 0.02 units against 4.4 expected). Stocking at least the
    expected demand keeps P(demand <= S) at or above the service level.
    """
    s_level = max(demand_quantile(service_level, exposure_demand, spread), exposure_demand)
    return PolicyLevels(safety_stock=s_level - exposure_demand, order_up_to_level=s_level)


def round_order(qty: float, moq: float | None, pack_size: float | None) -> float:
    """Round a positive need up to whole packs, and up to the MOQ."""
    if qty <= 0:
        return 0.0
    pack = pack_size if pack_size and pack_size > 0 else 1.0
    qty = math.ceil(qty / pack - 1e-9) * pack
    if moq and qty < moq:
        qty = math.ceil(moq / pack - 1e-9) * pack
    return float(qty)


def order_quantity(
    order_up_to_level: float, position: float, moq: float | None = None, pack_size: float | None = None
) -> float:
    """S - position when positive, rounded *up* to whole packs and the MOQ (rounding down would
    leave the position below S, under the service level); 0 when the position is at or above S."""
    return round_order(order_up_to_level - position, moq, pack_size)


def stockout_probability(position: float, exposure_demand: float, spread: float) -> float:
    """P(demand over the exposure > position), demand over the exposure the gamma of
    :func:`demand_quantile` (at S it is 1 - service level)."""
    if spread <= 0:
        return float(position < exposure_demand)
    if exposure_demand <= 0:
        return float(norm.sf(position, exposure_demand, spread))
    shape, scale = _gamma(exposure_demand, spread)
    return float(gamma.sf(position, shape, scale=scale))


def expected_shortage(level: float, exposure_demand: float, spread: float) -> float:
    """E[(D - level)+] for the demand D over the exposure, the gamma of :func:`demand_quantile`.

    For a gamma of shape a and scale b (mean a b): E[D; D > x] = mean P(Gamma(a + 1, b) > x), so
    E[(D - x)+] = mean sf_{a+1}(x) - x sf_a(x). The normal fallback is spread G((x - mean)/spread).
    """
    if spread <= 0:
        return max(exposure_demand - level, 0.0)
    if exposure_demand <= 0:
        return float(spread * normal_loss((level - exposure_demand) / spread))
    shape, scale = _gamma(exposure_demand, spread)
    above = exposure_demand * gamma.sf(level, shape + 1, scale=scale)
    tail = above - level * gamma.sf(level, shape, scale=scale)
    return float(max(tail, 0.0))


def expected_fill_rate(
    level: float, exposure_demand: float, spread: float, demand_per_review: float
) -> float | None:
    """Share of demand served from stock at S: 1 - E[(D - S)+] / expected demand per review.

    E[(D - S)+] (:func:`expected_shortage`) is the expected shortage at the end of an L + R
    exposure, i.e. the demand of one review cycle that waits (Silver, Pyke and Thomas, ch. 6,
    (R, S) with backorders; it ignores the shortage already outstanding at the start of the
    cycle, negligible at service levels of 0.9 and above). None when no demand is expected.
    """
    if demand_per_review <= 0:
        return None
    shortage = expected_shortage(level, exposure_demand, spread)
    return float(max(0.0, 1.0 - shortage / demand_per_review))


_MISSING_SPREAD = {
    "sigma": "forecast error estimate (no holdout)",
    "quantile": "forecast quantiles above the median",
}


def what_is_missing(
    has_forecast: bool, has_lead_time: bool, has_stock: bool, has_spread: bool, method: str
) -> list[str]:
    """The inputs an item lacks, in the words ``missing`` reports. The spread is only asked for
    when there is a forecast to spread around."""
    missing = []
    if not has_forecast:
        missing.append("forecast (no sales history)")
    if not has_lead_time:
        missing.append("lead_time_days")
    if not has_stock:
        missing.append("stock level")
    if has_forecast and not has_spread:
        missing.append(_MISSING_SPREAD[method])
    return missing


@dataclass(frozen=True)
class ItemInputs:
    """What one item's decision needs; None where the input is not there."""

    daily: np.ndarray | None  # expected (mean) demand per day from the forecast origin on
    daily_var: np.ndarray | None  # per-day variance implied by the forecast quantiles
    sigma_d: float | None  # RMSE of the daily backtest errors
    error_correlation: float  # k, the share of sigma_d^2 shared by every day of a forecast
    lead_time: float | None
    lead_time_std: float
    stock: Mapping[str, object] | None  # on_hand, on_order, date
    moq: float | None = None
    pack_size: float | None = None

    def spread_known(self, method: str) -> bool:
        return (self.sigma_d if method == "sigma" else self.daily_var) is not None


def item_decision(
    inputs: ItemInputs, service_level: float, review_period: float, method: str
) -> dict[str, object]:
    """The output fields one item's inputs allow; the others are left out (null)."""
    row: dict[str, object] = {}
    stock, position = inputs.stock, None
    if stock is not None:
        on_hand, on_order = _number(stock.get("on_hand")) or 0.0, _number(stock.get("on_order")) or 0.0
        position = on_hand + on_order
        row.update(on_hand=on_hand, on_order=on_order, inventory_position=position)
        row["stock_date"] = stock.get("date")
    if inputs.daily is None:
        return row
    mean_d = float(np.mean(inputs.daily))
    row["mean_daily_demand"] = mean_d
    if stock is not None:
        row["days_of_inventory"] = on_hand / mean_d if mean_d > 0 else None
    if inputs.lead_time is None:
        return row
    lead, lead_std = inputs.lead_time, inputs.lead_time_std
    days = exposure_days(lead, review_period)
    mu, lead_demand = demand_over(inputs.daily, days), demand_over(inputs.daily, lead)
    row.update(lead_time_demand=lead_demand, exposure_demand=mu)
    spreads: dict[str, float] = {}
    if inputs.sigma_d is not None:
        spreads["sigma"] = exposure_sigma(days, inputs.sigma_d, mean_d, lead_std, inputs.error_correlation)
        row.update(
            sigma_daily_demand=inputs.sigma_d,
            safety_stock_sigma=policy_levels(mu, spreads["sigma"], service_level).safety_stock,
        )
    if inputs.daily_var is not None:
        var = demand_over(inputs.daily_var, days)
        spreads["quantile"] = math.sqrt(var + (mean_d * lead_std) ** 2)
        lead_spread = math.sqrt(demand_over(inputs.daily_var, lead) + (mean_d * lead_std) ** 2)
        row.update(
            quantile_sigma_daily_demand=math.sqrt(var / days) if days > 0 else None,
            safety_stock_quantile=policy_levels(mu, spreads["quantile"], service_level).safety_stock,
            lead_time_demand_quantile=demand_quantile(service_level, lead_demand, lead_spread),
        )
    spread = spreads.get(method)
    if spread is None:
        return row
    levels = policy_levels(mu, spread, service_level)
    per_review = demand_over(inputs.daily, review_period)
    row.update(
        safety_stock=levels.safety_stock,
        reorder_point=levels.reorder_point,
        order_up_to_level=levels.order_up_to_level,
        fill_rate=expected_fill_rate(levels.order_up_to_level, mu, spread, per_review),
    )
    if position is not None:
        order = order_quantity(levels.order_up_to_level, position, inputs.moq, inputs.pack_size)
        row.update(suggested_order_qty=order, stockout_probability=stockout_probability(position, mu, spread))
    return row


def _missing(value: object) -> bool:
    return value is None or bool(pd.isna(value))


def _number(value: object) -> float | None:
    return None if _missing(value) else float(value)


def forecast_by_item(
    forecast: pd.DataFrame, models: Mapping[str, str], quantile_levels: Sequence[float]
) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """item_id -> (expected demand per day, per-day quantile variance or None), in date order."""
    qcols = [quantile_column(q) for q in quantile_levels]
    has_quantiles = bool(qcols) and 0.5 in quantile_levels and set(qcols) <= set(forecast.columns)
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for item, g in forecast.groupby("item_id"):
        g = g.sort_values("date")
        var = None
        if has_quantiles:
            s = quantile_sigma(g[qcols].to_numpy(float), quantile_levels)
            var = None if np.isnan(s).any() else s**2
        out[str(item)] = (expected_daily_demand(g, models.get(str(item)), quantile_levels), var)
    return out


def inventory_recommendations(
    forecast: pd.DataFrame,
    sigma: pd.Series,
    champions: pd.DataFrame,
    products: pd.DataFrame,
    stock: pd.DataFrame,
    service_level: float,
    review_period_days: int,
    method: str = "sigma",
    quantile_levels: Sequence[float] = (),
    profile: pd.DataFrame | None = None,
    error_correlation: pd.Series | None = None,
) -> pd.DataFrame:
    """One row per product: the (R, S) decision, or ``status='incomplete'`` naming what is missing.

    ``forecast``: champion forecast rows from the day after the stock date (item_id, date, point,
    optionally ``mean``, and the ``quantile_levels`` columns q10..q90); ``sigma``: item_id ->
    RMSE of the daily backtest errors (:func:`.demand.forecast_error_sigma`); ``products``:
    item_id, lead_time_days, lead_time_std_days, moq, pack_size; ``stock``: latest item_id, date,
    on_hand, on_order per item; ``method``: which spread estimate drives the decision (``sigma``
    or ``quantile``, both are reported); ``profile``: :func:`demand_profile` rows;
    ``error_correlation``: item_id -> k (:func:`.demand.forecast_error_correlation`), 0 where
    not given (the sqrt rule).
    """
    if method not in SAFETY_STOCK_METHODS:
        raise ValueError(f"safety stock method must be one of {SAFETY_STOCK_METHODS}, got {method!r}")
    z = service_z(service_level)
    models = dict(zip(champions["item_id"], champions["champion_model"], strict=False))
    forecasts = forecast_by_item(forecast, models, quantile_levels)
    stock_by_item = stock.set_index("item_id").to_dict("index")
    correlation = pd.Series(dtype=float) if error_correlation is None else error_correlation
    profile_by_item = {} if profile is None else profile.set_index("item_id").to_dict("index")
    rows = []
    for product in products.to_dict("records"):
        item = product["item_id"]
        daily, daily_var = forecasts.get(item, (None, None))
        st = stock_by_item.get(item)
        inputs = ItemInputs(
            daily=daily if daily is not None and len(daily) else None,
            daily_var=daily_var,
            sigma_d=_number(sigma.get(item, None)),
            error_correlation=_number(correlation.get(item, None)) or 0.0,
            lead_time=_number(product.get("lead_time_days")),
            lead_time_std=_number(product.get("lead_time_std_days")) or 0.0,
            stock=None if st is None or _missing(st.get("on_hand")) else st,
            moq=_number(product.get("moq")),
            pack_size=_number(product.get("pack_size")),
        )
        missing = what_is_missing(
            inputs.daily is not None,
            inputs.lead_time is not None,
            inputs.stock is not None,
            inputs.spread_known(method),
            method,
        )
        row: dict[str, object] = dict.fromkeys(OUTPUT_COLUMNS)
        row.update({k: v for k, v in profile_by_item.get(item, {}).items() if k in row})
        row.update(
            item_id=item,
            champion_model=models.get(item),
            service_level=service_level,
            z=z,
            review_period_days=review_period_days,
            lead_time_days=inputs.lead_time,
            lead_time_std_days=product.get("lead_time_std_days"),
            safety_stock_method=method,
            status="incomplete" if missing else "ok",
            missing="; ".join(missing) or None,
        )
        row.update(item_decision(inputs, service_level, review_period_days, method))
        rows.append(row)
    return pd.DataFrame(rows, columns=OUTPUT_COLUMNS)


def to_inventory_table(recs: pd.DataFrame) -> pl.DataFrame:
    """Recommendations in the ``ml.inventory_metrics`` column types; a value that is not there is
    NULL (pandas' NaN would reach SQL as a NaN number and pass ``is not null``)."""
    data = {c: recs[c].tolist() for c in OUTPUT_COLUMNS}
    data["stock_date"] = [
        pd.Timestamp(d).date() if d is not None and not pd.isna(d) else None for d in data["stock_date"]
    ]
    table = pl.DataFrame(data, schema=OUTPUT_SCHEMA, strict=False)
    return table.with_columns(pl.col(pl.Float64).fill_nan(None))
