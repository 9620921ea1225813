"""The long forecast format every model writes, and the repairs every forecast gets.

One row per (model, item, date): ``step`` 1..horizon, a point forecast and quantile columns
``q10``..``q90``. Demand cannot be negative and quantiles cannot cross, so both are enforced here
once, for Chronos and the baselines alike (sorting quantiles per row is the monotone
rearrangement of Chernozhukov, Fernandez-Val and Galichon, 2010).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl

# The quantile levels every model writes unless FORECAST_QUANTILES says otherwise (Chronos-2 is
# trained on 0.01..0.99; the served table keeps deciles).
DEFAULT_QUANTILES: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def quantile_column(q: float) -> str:
    """Column name for quantile level ``q`` (0.1 -> ``q10``), the same in every output table."""
    return f"q{round(q * 100):02d}"


def finalize_forecast(
    frame: pd.DataFrame, model: str, quantiles: tuple[float, ...], cutoff: pd.Timestamp
) -> pd.DataFrame:
    """Clip to non-negative, sort quantiles per row, number the steps from ``cutoff``.

    ``frame`` has ``item_id``, ``date``, ``point`` and one column per quantile level.
    """
    qcols = [quantile_column(q) for q in quantiles]
    out = frame[["item_id", "date", "point", *qcols]].copy()
    out["date"] = pd.to_datetime(out["date"])
    values = np.clip(out[qcols].to_numpy(dtype=float), 0.0, None)
    out[qcols] = np.sort(values, axis=1)
    out["point"] = np.clip(out["point"].to_numpy(dtype=float), 0.0, None)
    out["step"] = (out["date"] - pd.Timestamp(cutoff)).dt.days.astype("int64")
    out.insert(0, "model", model)
    return out.sort_values(["item_id", "date"]).reset_index(drop=True)


def forecast_problems(
    frame: pd.DataFrame, items: set[str], horizon: int, quantiles: tuple[float, ...]
) -> list[str]:
    """Sanity problems of one model's forecast: NaN, negatives, crossing quantiles, missing steps."""
    qcols = [quantile_column(q) for q in quantiles]
    problems = []
    values = frame[["point", *qcols]].to_numpy(dtype=float)
    if np.isnan(values).any():
        problems.append("forecast contains NaN")
    if (values < 0).any():
        problems.append("forecast contains negative values")
    if (np.diff(frame[qcols].to_numpy(dtype=float), axis=1) < -1e-9).any():
        problems.append("quantiles are not ordered")
    steps = frame.groupby("item_id")["step"].agg(lambda s: sorted(s) == list(range(1, horizon + 1)))
    missing = items - set(steps[steps].index)
    if missing:
        problems.append(f"{len(missing)} items lack a full {horizon}-day horizon, e.g. {sorted(missing)[:3]}")
    return problems


def forecast_table_schema(quantiles: tuple[float, ...]) -> dict[str, pl.DataType]:
    """Column types of the ``ml.*_forecast`` tables (one schema for every model)."""
    return {
        "as_of": pl.Date,
        "kind": pl.Utf8,
        "cutoff": pl.Date,
        "model": pl.Utf8,
        "model_id": pl.Utf8,
        "item_id": pl.Utf8,
        "date": pl.Date,
        "step": pl.Int64,
        "point": pl.Float64,
        **{quantile_column(q): pl.Float64 for q in quantiles},
        "mlflow_run_id": pl.Utf8,
    }


def to_forecast_table(rows: pd.DataFrame | None, quantiles: tuple[float, ...]) -> pl.DataFrame:
    """Rows in the table schema (an empty, typed frame for ``None``)."""
    schema = forecast_table_schema(quantiles)
    if rows is None or rows.empty:
        return pl.DataFrame(schema=schema)
    return pl.from_pandas(rows[list(schema)]).cast(schema)
