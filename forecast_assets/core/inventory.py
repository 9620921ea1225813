"""Inventory decisions from the champion forecast: safety stock, reorder point, order quantity.

Formulas (Silver, Pyke and Thomas, *Inventory and Production Management in Supply Chains*, 4th
ed., ch. 6; Chopra and Meindl, *Supply Chain Management*, ch. 12):

- z = Phi^-1(service level)                                   (scipy.stats.norm.ppf)
- safety stock SS = z * sigma_d * sqrt(L)                      (lead time known exactly)
  or SS = z * sqrt(L * sigma_d^2 + d^2 * sigma_L^2)            (lead time varies, std sigma_L)
- reorder point ROP = forecast demand over the lead time + SS
- order-up-to level S = forecast demand over (L + review period R) + SS
- suggested order = S - (on hand + on order) when that position is at or below ROP, rounded up
  to the pack size and at least the MOQ; else 0
- days of inventory = on hand / mean daily forecast demand
- stock-out risk = P(lead-time demand > inventory position) under the same normal model

sigma_d is the standard deviation of the champion's daily holdout errors (forecast - actual).
An item missing a lead time, a stock level, a forecast or an error estimate gets a row saying
what is missing instead of a guessed number.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import polars as pl
from scipy.stats import norm

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
)
OUTPUT_SCHEMA: dict[str, pl.DataType] = {
    "item_id": pl.Utf8,
    "champion_model": pl.Utf8,
    **dict.fromkeys(_NUMBERS, pl.Float64),
    "stock_date": pl.Date,
    "status": pl.Utf8,
    "missing": pl.Utf8,
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
    """z * sqrt(L sigma_d^2 + d^2 sigma_L^2); reduces to z sigma_d sqrt(L) when sigma_L = 0."""
    return float(z * math.sqrt(lead_time * sigma_d**2 + (mean_d**2) * (sigma_lead**2)))


def demand_over(daily: np.ndarray, days: float) -> float:
    """Forecast demand over the next ``days`` (fractional days pro rata; beyond the horizon at the mean)."""
    whole = math.floor(days)
    total = float(np.sum(daily[: min(whole, len(daily))]))
    mean = float(np.mean(daily)) if len(daily) else 0.0
    if whole > len(daily):
        total += mean * (whole - len(daily))
    frac = days - whole
    if frac > 0:
        total += frac * (float(daily[whole]) if whole < len(daily) else mean)
    return total


def round_order(qty: float, moq: float | None, pack_size: float | None) -> float:
    """Round a positive need up to whole packs, and up to the MOQ."""
    if qty <= 0:
        return 0.0
    pack = pack_size if pack_size and pack_size > 0 else 1.0
    qty = math.ceil(qty / pack - 1e-9) * pack
    if moq and qty < moq:
        qty = math.ceil(moq / pack - 1e-9) * pack
    return float(qty)


def inventory_recommendations(
    forecast: pd.DataFrame,
    sigma: pd.Series,
    champions: pd.DataFrame,
    products: pd.DataFrame,
    stock: pd.DataFrame,
    service_level: float,
    review_period_days: int,
) -> pd.DataFrame:
    """One row per product: the recommendation, or ``status='incomplete'`` naming what is missing.

    ``forecast``: champion forecast rows (item_id, date, point); ``sigma``: item_id -> sigma_d;
    ``products``: item_id, lead_time_days, lead_time_std_days, moq, pack_size; ``stock``: latest
    item_id, date, on_hand, on_order per item.
    """
    z = service_z(service_level)
    daily_by_item = {
        item: g.sort_values("date")["point"].to_numpy(float) for item, g in forecast.groupby("item_id")
    }
    champion_by_item = dict(zip(champions["item_id"], champions["champion_model"], strict=False))
    stock_by_item = stock.set_index("item_id").to_dict("index")
    rows = []
    for product in products.to_dict("records"):
        item = product["item_id"]
        row: dict[str, object] = dict.fromkeys(OUTPUT_COLUMNS)
        row.update(
            item_id=item,
            champion_model=champion_by_item.get(item),
            service_level=service_level,
            z=z,
            review_period_days=review_period_days,
            lead_time_days=product.get("lead_time_days"),
            lead_time_std_days=product.get("lead_time_std_days"),
        )
        missing = []
        daily = daily_by_item.get(item)
        if daily is None or len(daily) == 0:
            missing.append("forecast (no sales history)")
        lead = product.get("lead_time_days")
        if lead is None or pd.isna(lead):
            missing.append("lead_time_days")
        st = stock_by_item.get(item)
        if st is None or pd.isna(st.get("on_hand")):
            missing.append("stock level")
        sig = sigma.get(item, float("nan"))
        if sig is None or pd.isna(sig):
            missing.append("forecast error estimate (no holdout)")
        if st is not None:
            row.update(
                on_hand=st.get("on_hand"), on_order=st.get("on_order") or 0.0, stock_date=st.get("date")
            )
        if daily is not None and len(daily):
            row["mean_daily_demand"] = float(np.mean(daily))
        if missing:
            row.update(status="incomplete", missing="; ".join(missing))
            rows.append(row)
            continue
        lead_std = product.get("lead_time_std_days")
        lead_std = 0.0 if lead_std is None or pd.isna(lead_std) else float(lead_std)
        mean_d = float(np.mean(daily))
        ss = safety_stock(z, float(sig), float(lead), mean_d, lead_std)
        ltd = demand_over(daily, float(lead))
        rop = ltd + ss
        s_level = demand_over(daily, float(lead) + review_period_days) + ss
        position = float(st["on_hand"]) + float(st.get("on_order") or 0.0)
        need = s_level - position if position <= rop else 0.0
        spread = math.sqrt(float(lead) * float(sig) ** 2 + mean_d**2 * lead_std**2)
        risk = float(norm.sf((position - ltd) / spread)) if spread > 0 else float(position < ltd)
        row.update(
            sigma_daily_demand=float(sig),
            lead_time_demand=ltd,
            safety_stock=ss,
            reorder_point=rop,
            order_up_to_level=s_level,
            inventory_position=position,
            days_of_inventory=float(st["on_hand"]) / mean_d if mean_d > 0 else None,
            suggested_order_qty=round_order(need, product.get("moq"), product.get("pack_size")),
            stockout_probability=risk,
            status="ok",
            missing=None,
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=OUTPUT_COLUMNS)


def to_inventory_table(recs: pd.DataFrame) -> pl.DataFrame:
    """Recommendations in the ``ml.inventory_metrics`` column types."""
    data = {c: recs[c].tolist() for c in OUTPUT_COLUMNS}
    data["stock_date"] = [
        pd.Timestamp(d).date() if d is not None and not pd.isna(d) else None for d in data["stock_date"]
    ]
    return pl.DataFrame(data, schema=OUTPUT_SCHEMA, strict=False)
