"""Ensembles of fixed members: the median and the mean of a few models' forecasts.

Why fixed members: choosing the members by their backtest scores and then scoring the ensemble on
the same backtests rewards the choice twice (in-sample selection bias). A fixed list (by default
AutoETS, AutoTheta, the two global LightGBMs and Chronos-2 when it ran) has no such bias; the
champion-challenger rule then decides, on the same backtests as every model, whether the
ensemble or a single model is served.

Per item, origin and day, the ensemble combines every member's point and each quantile (median or
mean across members), then clips and sorts the quantiles like any model's forecast. A row is
made only where every member forecast that item from that origin, so the ensemble's ``model``
name (``ensemble_median(auto_ets+auto_theta+lightgbm)``) always says exactly what it is made of.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecast_assets.core.forecasting.frame import quantile_column

METHODS = ("median", "mean")
KEYS = ["as_of", "kind", "cutoff", "item_id", "date", "step"]


def ensemble_name(method: str, members: Sequence[str]) -> str:
    """``ensemble_<method>(a+b+c)``: what the served row says it is made of."""
    return f"ensemble_{method}({'+'.join(members)})"


def present_members(forecasts: pd.DataFrame, members: Sequence[str]) -> list[str]:
    """The configured members that have live forecast rows, in the configured order."""
    if forecasts.empty:
        return []
    live = set(forecasts.loc[forecasts["kind"] == "forecast", "model"])
    return [m for m in members if m in live]


def combine(
    forecasts: pd.DataFrame,
    members: Sequence[str],
    method: str,
    quantiles: tuple[float, ...],
    run_id: str | None = None,
) -> pd.DataFrame:
    """The ``method`` ensemble of ``members`` over ``forecasts`` (forecast-table rows of any
    kinds and cutoffs), in the same table schema; empty when fewer than two members."""
    if method not in METHODS:
        raise ValueError(f"ensemble method must be one of {METHODS}, got {method!r}")
    qcols = [quantile_column(q) for q in quantiles]
    members = list(members)
    if len(members) < 2:
        return pd.DataFrame()
    rows = forecasts[forecasts["model"].isin(members)]
    values = ["point", *qcols]
    grouped = rows.groupby(KEYS, sort=True)
    counts = grouped["model"].nunique()
    combined = grouped[values].median() if method == "median" else grouped[values].mean()
    combined = combined[counts == len(members)].reset_index()
    if combined.empty:
        return pd.DataFrame()
    q = np.clip(combined[qcols].to_numpy(dtype=float), 0.0, None)
    combined[qcols] = np.sort(q, axis=1)
    combined["point"] = np.clip(combined["point"].to_numpy(dtype=float), 0.0, None)
    name = ensemble_name(method, members)
    combined["model"] = name
    combined["model_id"] = f"ensemble/{method}"
    combined["mlflow_run_id"] = run_id
    return combined


def ensembles(
    forecasts: pd.DataFrame,
    members: Sequence[str],
    quantiles: tuple[float, ...],
    methods: Sequence[str] = METHODS,
    run_id: str | None = None,
) -> pd.DataFrame:
    """Every ``methods`` ensemble of the ``members`` present in ``forecasts``, in one frame."""
    present = present_members(forecasts, members)
    parts = [combine(forecasts, present, method, quantiles, run_id) for method in methods]
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
