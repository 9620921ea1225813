"""Rolling-origin backtest windows (Tashman, 2000; Hyndman and Athanasopoulos, FPP3 section 5.10).

One holdout window says little about a model: a single bad week decides the champion. A rolling
origin backtest forecasts from several cutoffs and scores every window. With ``as_of`` the last
date with data, horizon ``h``, ``n`` windows and step ``s`` days, the cutoffs are

    cutoff_k = as_of - h - k * s,   k = 0 .. n-1

so the most recent window is scored on the last ``h`` days up to ``as_of``. A window trains on
``date <= cutoff`` and is scored on ``cutoff < date <= cutoff + h``: every cutoff lies strictly
before the data it is scored on, and nothing after the cutoff leaks into training. With ``s < h``
windows overlap in the dates they score (each date is then scored from several origins).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd

from forecast_assets.core.forecasting.frame import DEFAULT_QUANTILES, quantile_column

DEMAND_COLUMNS = ("item_id", "date", "units_sold")


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def backtest_cutoffs(
    as_of: pd.Timestamp | str,
    horizon: int,
    n_windows: int,
    step: int,
    first_date: pd.Timestamp | str | None = None,
    min_train_days: int = 1,
) -> list[pd.Timestamp]:
    """Cutoffs ``as_of - horizon - k * step`` for k = 0..n_windows-1, oldest first.

    With ``first_date`` (the first date with data), cutoffs that would leave fewer than
    ``min_train_days`` days of training data are dropped, so a short history gives fewer windows
    instead of empty ones; the list may then be empty.
    """
    horizon = _positive_int("horizon", horizon)
    n_windows = _positive_int("n_windows", n_windows)
    step = _positive_int("step", step)
    min_train_days = _positive_int("min_train_days", min_train_days)
    end = pd.Timestamp(as_of).normalize()
    cutoffs = [end - pd.Timedelta(days=horizon + k * step) for k in range(n_windows)]
    if first_date is not None:
        start = pd.Timestamp(first_date).normalize()
        cutoffs = [c for c in cutoffs if (c - start).days + 1 >= min_train_days]
    return sorted(cutoffs)


def _check_demand(demand: pd.DataFrame) -> None:
    missing = [c for c in DEMAND_COLUMNS if c not in demand.columns]
    if missing:
        raise ValueError(f"demand frame lacks columns {missing}; it needs {list(DEMAND_COLUMNS)}")


def split_window(
    demand: pd.DataFrame, cutoff: pd.Timestamp | str, horizon: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training part ``date <= cutoff``, scoring part ``cutoff < date <= cutoff + horizon``)."""
    _check_demand(demand)
    horizon = _positive_int("horizon", horizon)
    cutoff = pd.Timestamp(cutoff)
    dates = pd.to_datetime(demand["date"])
    train = demand[dates <= cutoff]
    test = demand[(dates > cutoff) & (dates <= cutoff + pd.Timedelta(days=horizon))]
    return train.reset_index(drop=True), test.reset_index(drop=True)


@dataclass(frozen=True)
class BacktestWindow:
    cutoff: pd.Timestamp
    train: pd.DataFrame  # date <= cutoff: what a model may see
    test: pd.DataFrame  # cutoff < date <= cutoff + horizon: what it is scored on


def backtest_windows(
    demand: pd.DataFrame,
    as_of: pd.Timestamp | str,
    horizon: int,
    n_windows: int,
    step: int,
    min_train_days: int = 1,
) -> Iterator[BacktestWindow]:
    """The windows of :func:`backtest_cutoffs` over ``demand``, oldest first, with their parts."""
    _check_demand(demand)
    first = pd.to_datetime(demand["date"]).min() if not demand.empty else None
    for cutoff in backtest_cutoffs(as_of, horizon, n_windows, step, first, min_train_days):
        train, test = split_window(demand, cutoff, horizon)
        yield BacktestWindow(cutoff=cutoff, train=train, test=test)


def attach_actuals(
    forecasts: pd.DataFrame,
    demand: pd.DataFrame,
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES,
    exclude_stockouts: bool = True,
    origin_column: str = "cutoff",
) -> pd.DataFrame:
    """Forecast rows joined to what sold: the scored frame the metrics take.

    ``forecasts`` has model, item_id, date, point, quantile columns and the origin column
    (``cutoff`` for backtests, ``as_of`` for live forecasts). Rows without an actual are dropped,
    and so are stock-out days (``is_stockout = 1``) when ``exclude_stockouts``: the shelf was
    empty, so what sold is not demand. Returns model, item_id, date, cutoff (the origin), step
    (= (date - cutoff).days), actual, point, the quantile columns present, and the other columns
    of ``forecasts``.
    """
    _check_demand(demand)
    actual_columns = ["item_id", "date", "units_sold"]
    if exclude_stockouts and "is_stockout" in demand.columns:
        actual_columns.append("is_stockout")
    actuals = demand[actual_columns].rename(columns={"units_sold": "actual"})
    actuals = actuals.assign(date=pd.to_datetime(actuals["date"]))
    rows = forecasts.assign(date=pd.to_datetime(forecasts["date"]))
    if origin_column != "cutoff":
        rows = rows.drop(columns=["cutoff"], errors="ignore").rename(columns={origin_column: "cutoff"})
    rows["cutoff"] = pd.to_datetime(rows["cutoff"])
    if origin_column != "cutoff":
        rows[origin_column] = rows["cutoff"]
    scored = rows.merge(actuals, on=["item_id", "date"], how="inner")
    if "is_stockout" in actual_columns:
        scored = scored[scored["is_stockout"] != 1].drop(columns=["is_stockout"])
    scored = scored.dropna(subset=["actual"])
    leaked = scored["date"] <= scored["cutoff"]
    if leaked.any():
        raise ValueError(f"{int(leaked.sum())} forecast rows are dated on or before their origin")
    scored["step"] = (scored["date"] - scored["cutoff"]).dt.days.astype("int64")
    qcols = [quantile_column(q) for q in quantiles if quantile_column(q) in scored.columns]
    first = ["model", "item_id", "date", "cutoff", "step", "actual", "point", *qcols]
    rest = [c for c in scored.columns if c not in first]
    return scored[first + rest].sort_values(["model", "item_id", "cutoff", "date"]).reset_index(drop=True)
