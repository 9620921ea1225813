"""Item classes shared by forecasting (which baselines an item gets) and inventory (how it is
stocked): ABC by revenue, XYZ by weekly variability, and the Syntetos-Boylan-Croston demand class.

Item classes (computed over the last ``window_days`` of history up to the forecast origin):

- ABC by revenue share: items ranked by revenue; an item is A while the revenue of the items
  ranked above it is below the first cut-off (0.8) of the total, B below the second (0.95),
  else C. So the top seller is always A. Items without revenue are C.
- XYZ by the coefficient of variation (sample std / mean) of weekly demand: weeks counted back
  from the origin, weekly demand = 7 x the mean of the week's non-stock-out days (weekly, so
  that a regular weekday pattern, which a forecast handles, does not count as variability).
  X below the first cut-off (0.5), Y below the second (1.0), else Z.
- Demand class of Syntetos, Boylan and Croston (2005), "On the categorization of demand
  patterns", JORS 56(5), 495-503: ADI = days / days with demand, CV^2 = (sample std / mean)^2
  of the non-zero daily demand sizes; smooth (ADI < 1.32, CV^2 < 0.49), erratic (ADI < 1.32,
  CV^2 >= 0.49), intermittent (ADI >= 1.32, CV^2 < 0.49), lumpy (both at or above). Stock-out
  days are left out: their zero sales are not zero demand.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

DEFAULT_ABC_CUTOFFS = (0.8, 0.95)
DEFAULT_XYZ_CUTOFFS = (0.5, 1.0)
# Syntetos, Boylan and Croston (2005): the cut-offs between the four demand classes.
SBC_ADI_CUTOFF = 1.32
SBC_CV2_CUTOFF = 0.49
CLASS_WINDOW_DAYS = 364  # 52 whole weeks: a 365th day would be a one-day "week" scaled by 7

PROFILE_COLUMNS = [
    "item_id",
    "revenue",
    "revenue_share",
    "abc_class",
    "weekly_demand_cv",
    "xyz_class",
    "adi",
    "demand_size_cv2",
    "demand_class",
]


def abc_classes(revenue: pd.Series, cutoffs: Sequence[float] = DEFAULT_ABC_CUTOFFS) -> pd.Series:
    """A/B/C per item (index) from its revenue: the class is set by the share of total revenue of
    the items ranked above it (ties broken by item id), so the top seller is always A."""
    a_cut, b_cut = _two_cutoffs(cutoffs, "ABC")
    if revenue.empty:
        return pd.Series(dtype=object)
    rev = revenue.fillna(0.0).clip(lower=0.0)
    ordered = rev.sort_index().sort_values(ascending=False, kind="stable")
    total = float(ordered.sum())
    if total <= 0:
        return pd.Series("C", index=revenue.index)
    before = (ordered.cumsum() - ordered) / total
    classes = pd.Series(
        np.where(before < a_cut - 1e-12, "A", np.where(before < b_cut - 1e-12, "B", "C")),
        index=ordered.index,
    )
    classes[ordered <= 0] = "C"
    return classes.reindex(revenue.index)


def xyz_class(cv: float | None, cutoffs: Sequence[float] = DEFAULT_XYZ_CUTOFFS) -> str | None:
    """X below the first CV cut-off, Y below the second, else Z; None without a CV."""
    x_cut, y_cut = _two_cutoffs(cutoffs, "XYZ")
    if cv is None or pd.isna(cv):
        return None
    return "X" if cv < x_cut else "Y" if cv < y_cut else "Z"


def demand_class(adi: float | None, cv2: float | None) -> str | None:
    """Syntetos-Boylan-Croston (2005) class from ADI and the CV^2 of non-zero demand sizes."""
    if adi is None or cv2 is None or pd.isna(adi) or pd.isna(cv2):
        return None
    if adi < SBC_ADI_CUTOFF:
        return "smooth" if cv2 < SBC_CV2_CUTOFF else "erratic"
    return "intermittent" if cv2 < SBC_CV2_CUTOFF else "lumpy"


def adi_cv2(units: np.ndarray) -> tuple[float | None, float | None]:
    """Average inter-demand interval (periods / periods with demand) and the squared sample
    coefficient of variation of the non-zero sizes; None where undefined (fewer than two
    non-zero periods for CV^2, none for ADI)."""
    units = np.asarray(units, dtype=float)
    sizes = units[units > 0]
    if len(sizes) == 0:
        return None, None
    adi = len(units) / len(sizes)
    if len(sizes) < 2:
        return adi, None
    return adi, float((np.std(sizes, ddof=1) / np.mean(sizes)) ** 2)


def weekly_cv(dates: pd.Series, units: pd.Series, as_of: pd.Timestamp) -> float | None:
    """Sample CV of weekly demand; weeks counted back from ``as_of``, each week's demand 7 x the
    mean of its days (pass only non-stock-out days). None with fewer than two weeks or no demand."""
    week = (pd.Timestamp(as_of) - pd.to_datetime(dates)).dt.days // 7
    weekly = units.astype(float).groupby(week.to_numpy()).mean() * 7
    if len(weekly) < 2 or weekly.mean() <= 0:
        return None
    return float(weekly.std(ddof=1) / weekly.mean())


def demand_profile(
    demand: pd.DataFrame,
    items: Sequence[str],
    as_of: pd.Timestamp,
    abc_cutoffs: Sequence[float] = DEFAULT_ABC_CUTOFFS,
    xyz_cutoffs: Sequence[float] = DEFAULT_XYZ_CUTOFFS,
    window_days: int = CLASS_WINDOW_DAYS,
) -> pd.DataFrame:
    """ABC, XYZ and demand class per item over the ``window_days`` up to ``as_of``.

    ``demand``: item_id, date, units_sold, price, is_stockout (``analytics.ts_demand_daily``).
    Every item of ``items`` gets a row; one without history has zero revenue (C) and no XYZ or
    demand class.
    """
    as_of = pd.Timestamp(as_of)
    dates = pd.to_datetime(demand["date"])
    window = demand[(dates > as_of - pd.Timedelta(days=window_days)) & (dates <= as_of)]
    revenue = (
        (window["units_sold"].astype(float) * window["price"].astype(float).fillna(0.0))
        .groupby(window["item_id"])
        .sum()
        .reindex(list(items), fill_value=0.0)
    )
    total = float(revenue.sum())
    abc = abc_classes(revenue, abc_cutoffs)
    in_stock = window[window["is_stockout"].fillna(0) == 0]
    by_item = {item: g for item, g in in_stock.groupby("item_id")}
    rows = []
    for item in items:
        g = by_item.get(item)
        cv = adi = cv2 = None
        if g is not None and len(g):
            cv = weekly_cv(g["date"], g["units_sold"], as_of)
            adi, cv2 = adi_cv2(g.sort_values("date")["units_sold"].to_numpy(float))
        rows.append(
            {
                "item_id": item,
                "revenue": float(revenue[item]),
                "revenue_share": float(revenue[item]) / total if total > 0 else 0.0,
                "abc_class": abc[item],
                "weekly_demand_cv": cv,
                "xyz_class": xyz_class(cv, xyz_cutoffs),
                "adi": adi,
                "demand_size_cv2": cv2,
                "demand_class": demand_class(adi, cv2),
            }
        )
    return pd.DataFrame(rows, columns=PROFILE_COLUMNS)


def _two_cutoffs(cutoffs: Sequence[float], name: str) -> tuple[float, float]:
    values = tuple(float(c) for c in cutoffs)
    if len(values) != 2 or not 0 < values[0] < values[1]:
        raise ValueError(f"{name} cut-offs must be two increasing positive numbers, got {cutoffs}")
    return values
