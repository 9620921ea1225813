"""Point-forecast accuracy metrics, per item and overall, with their published definitions.

- MAE  = mean |y - yhat|
- RMSE = sqrt(mean (y - yhat)^2)
- bias = mean (yhat - y)                 (positive: over-forecast)
- WAPE = sum |y - yhat| / sum |y|        (NaN when every actual is zero)
- MASE = MAE / mean |y_t - y_{t-m}| over the training data (Hyndman and Koehler, 2006),
         seasonal period m = 7 for daily retail data
"""

from __future__ import annotations

import numpy as np
import pandas as pd

METRICS = ("mae", "rmse", "bias", "wape", "mase")


def seasonal_scale(history: pd.Series, season: int = 7) -> float:
    """In-sample mean absolute seasonal difference: the MASE denominator (NaN if undefined)."""
    values = np.asarray(history, dtype=float)
    if values.size <= season:
        return float("nan")
    scale = float(np.mean(np.abs(values[season:] - values[:-season])))
    return scale if scale > 0 else float("nan")


def point_metrics(actual: np.ndarray, forecast: np.ndarray, scale: float = float("nan")) -> dict[str, float]:
    """All point metrics for one series (or one pooled set of errors)."""
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


def score_backtest(scored: pd.DataFrame, scales: pd.Series) -> pd.DataFrame:
    """Metrics per (model, item) and per model overall.

    ``scored`` has model, item_id, actual, point; ``scales`` maps item_id to its MASE scale. The
    overall MASE is the mean of item MASEs (as in the M5 and fev-bench reports); the overall WAPE
    pools all errors.
    """
    rows = []
    for (model, item), group in scored.groupby(["model", "item_id"], sort=True):
        metrics = point_metrics(group["actual"], group["point"], scales.get(item, float("nan")))
        rows.append({"level": "item", "model": model, "item_id": item, "n_obs": len(group), **metrics})
    per_item = pd.DataFrame(rows)
    overall = []
    for model, group in scored.groupby("model", sort=True):
        metrics = point_metrics(group["actual"], group["point"])
        metrics["mase"] = float(per_item.loc[per_item["model"] == model, "mase"].mean())
        overall.append({"level": "client", "model": model, "item_id": None, "n_obs": len(group), **metrics})
    return pd.concat([per_item, pd.DataFrame(overall)], ignore_index=True)
