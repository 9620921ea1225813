"""Inventory decisions from the champion's probabilistic forecast, and item classes.

Formulas (Silver, Pyke and Thomas, *Inventory and Production Management in Supply Chains*, 4th
ed., ch. 6; Chopra and Meindl, *Supply Chain Management*, 6th ed., ch. 12):

- z = Phi^-1(service level)                                   (scipy.stats.norm.ppf)
- safety stock SS = z * sigma_d * sqrt(L)                      (lead time known exactly)
  or SS = z * sqrt(L * sigma_d^2 + d^2 * sigma_L^2)            (lead time varies, std sigma_L)
- reorder point ROP = forecast demand over the lead time + SS
- order-up-to level S = forecast demand over (L + review period R) + SS
- suggested order = S - (on hand + on order) when that position is at or below ROP, rounded up
  to the pack size and at least the MOQ; else 0
- days of inventory = on hand / mean daily forecast demand
- stock-out risk before the next replenishment = P(lead-time demand > inventory position)
  under the same normal model that sets SS

Two estimates of the lead-time demand spread are computed for every item and both reported; the
``safety_stock_method`` setting picks the one that drives SS, ROP, S, the order and the risk:

- ``sigma``: sigma_d is the standard deviation of the champion's daily backtest errors
  (forecast - actual, stock-out days excluded): what the model has actually missed by.
- ``quantile``: the lead-time demand quantile read from the champion's forecast quantiles. Each
  day's quantiles are turned into a normal N(point_t, s_t^2) whose s_t is the least-squares fit
  of q_p - q50 = s_t * Phi^-1(p) over the levels p > 0.5 (the upper tail, the one a service
  level above 0.5 needs; the lower quantiles are clipped at zero demand and would bias it).
  Days are taken as independent, so Var(lead-time demand) = sum of s_t^2 over the lead time
  (fractional days pro rata, days beyond the horizon at the horizon mean) plus d^2 sigma_L^2,
  and the quantile at the service level is LTD + z * sqrt(Var).
  Why not add up the per-day quantiles: the sum of per-day p-quantiles is the p-quantile of the
  sum only if days are comonotonic (perfectly correlated); it is an upper bound that grows like
  L rather than sqrt(L), and it cannot reach a 0.95 level from a 0.1..0.9 grid without an
  extrapolation anyway. Independence is the same assumption behind z * sigma_d * sqrt(L), so
  the two methods differ only in where the daily spread comes from and are comparable; where
  daily errors are positively correlated both understate the spread.

Item classes (ABC, XYZ, Syntetos-Boylan) come from :mod:`forecast_assets.core.classification`.

An item missing a lead time, a stock level, a forecast or the chosen method's spread estimate
gets ``status = 'incomplete'`` and the list of what is missing; the fields whose inputs are
present are still filled, the others stay null rather than guessed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import polars as pl
from scipy.stats import norm

from forecast_assets.core.forecasting.frame import quantile_column

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
    z: float, sigma_d: float, lead_time: float, mean_d: float = 0.0, sigma_lead: float = 0.0
) -> float:
    """z * sqrt(L sigma_d^2 + d^2 sigma_L^2); reduces to z sigma_d sqrt(L) when sigma_L = 0.

    Chopra and Meindl, ch. 12: the standard deviation of demand over a lead time of L periods
    with i.i.d. per-period demand (std sigma_d, mean d) and a lead time of std sigma_L.
    """
    return float(z * math.sqrt(lead_time * sigma_d**2 + (mean_d**2) * (sigma_lead**2)))


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


def round_order(qty: float, moq: float | None, pack_size: float | None) -> float:
    """Round a positive need up to whole packs, and up to the MOQ."""
    if qty <= 0:
        return 0.0
    pack = pack_size if pack_size and pack_size > 0 else 1.0
    qty = math.ceil(qty / pack - 1e-9) * pack
    if moq and qty < moq:
        qty = math.ceil(moq / pack - 1e-9) * pack
    return float(qty)


def stockout_probability(position: float, lead_time_demand: float, spread: float) -> float:
    """P(lead-time demand > position) for lead-time demand ~ N(lead_time_demand, spread^2)."""
    if spread > 0:
        return float(norm.sf((position - lead_time_demand) / spread))
    return float(position < lead_time_demand)


def _missing(value: object) -> bool:
    return value is None or bool(pd.isna(value))


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
) -> pd.DataFrame:
    """One row per product: the recommendation, or ``status='incomplete'`` naming what is missing.

    ``forecast``: champion forecast rows (item_id, date, point and the ``quantile_levels``
    columns q10..q90); ``sigma``: item_id -> sigma_d of the backtest errors; ``products``:
    item_id, lead_time_days, lead_time_std_days, moq, pack_size; ``stock``: latest item_id, date,
    on_hand, on_order per item; ``method``: which spread estimate drives the decision
    (``sigma`` or ``quantile``, both are reported); ``profile``: :func:`demand_profile` rows.
    """
    if method not in SAFETY_STOCK_METHODS:
        raise ValueError(f"safety stock method must be one of {SAFETY_STOCK_METHODS}, got {method!r}")
    z = service_z(service_level)
    qcols = [quantile_column(q) for q in quantile_levels]
    daily_by_item: dict[str, np.ndarray] = {}
    qvar_by_item: dict[str, np.ndarray] = {}
    for item, g in forecast.groupby("item_id"):
        g = g.sort_values("date")
        daily_by_item[item] = g["point"].to_numpy(float)
        if qcols and 0.5 in quantile_levels and set(qcols) <= set(g.columns):
            s = quantile_sigma(g[qcols].to_numpy(float), quantile_levels)
            if not np.isnan(s).any():
                qvar_by_item[item] = s**2
    champion_by_item = dict(zip(champions["item_id"], champions["champion_model"], strict=False))
    stock_by_item = stock.set_index("item_id").to_dict("index")
    profile_by_item = {} if profile is None else profile.set_index("item_id").to_dict("index")
    rows = []
    for product in products.to_dict("records"):
        item = product["item_id"]
        row: dict[str, object] = dict.fromkeys(OUTPUT_COLUMNS)
        row.update({k: v for k, v in profile_by_item.get(item, {}).items() if k in row})
        lead = None if _missing(product.get("lead_time_days")) else float(product["lead_time_days"])
        lead_std = product.get("lead_time_std_days")
        lead_std = 0.0 if _missing(lead_std) else float(lead_std)
        row.update(
            item_id=item,
            champion_model=champion_by_item.get(item),
            service_level=service_level,
            z=z,
            review_period_days=review_period_days,
            lead_time_days=lead,
            lead_time_std_days=product.get("lead_time_std_days"),
            safety_stock_method=method,
        )
        missing = []
        daily = daily_by_item.get(item)
        if daily is None or len(daily) == 0:
            daily = None
            missing.append("forecast (no sales history)")
        if lead is None:
            missing.append("lead_time_days")
        st = stock_by_item.get(item)
        if st is None or _missing(st.get("on_hand")):
            st = None
            missing.append("stock level")
        sig = sigma.get(item, None)
        sig = None if _missing(sig) else float(sig)
        qvar = qvar_by_item.get(item)
        if method == "sigma" and sig is None and daily is not None:
            missing.append("forecast error estimate (no holdout)")
        if method == "quantile" and qvar is None and daily is not None:
            missing.append("forecast quantiles above the median")
        if st is not None:
            on_order = 0.0 if _missing(st.get("on_order")) else float(st["on_order"])
            row.update(
                on_hand=float(st["on_hand"]),
                on_order=on_order,
                inventory_position=float(st["on_hand"]) + on_order,
                stock_date=st.get("date"),
            )
        if daily is not None:
            mean_d = float(np.mean(daily))
            row["mean_daily_demand"] = mean_d
            if st is not None:
                row["days_of_inventory"] = float(st["on_hand"]) / mean_d if mean_d > 0 else None
        if daily is not None and lead is not None:
            spreads: dict[str, float] = {}
            lead_var = mean_d**2 * lead_std**2
            if sig is not None:
                spreads["sigma"] = math.sqrt(lead * sig**2 + lead_var)
                row.update(
                    sigma_daily_demand=sig, safety_stock_sigma=safety_stock(z, sig, lead, mean_d, lead_std)
                )
            if qvar is not None:
                var_l = demand_over(qvar, lead)
                spreads["quantile"] = math.sqrt(var_l + lead_var)
                row.update(
                    quantile_sigma_daily_demand=math.sqrt(var_l / lead) if lead > 0 else None,
                    safety_stock_quantile=z * spreads["quantile"],
                )
            ltd = demand_over(daily, lead)
            row["lead_time_demand"] = ltd
            if "quantile" in spreads:
                row["lead_time_demand_quantile"] = ltd + z * spreads["quantile"]
            if method in spreads:
                ss = z * spreads[method]
                rop = ltd + ss
                s_level = demand_over(daily, lead + review_period_days) + ss
                row.update(safety_stock=ss, reorder_point=rop, order_up_to_level=s_level)
                if st is not None:
                    position = float(row["inventory_position"])
                    need = s_level - position if position <= rop else 0.0
                    row.update(
                        suggested_order_qty=round_order(need, product.get("moq"), product.get("pack_size")),
                        stockout_probability=stockout_probability(position, ltd, spreads[method]),
                    )
        row.update(status="incomplete" if missing else "ok", missing="; ".join(missing) or None)
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
