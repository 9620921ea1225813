"""Drift checks with Evidently: has recent demand, or recent forecast error, left its usual range?

A model chosen on last quarter's data is only trustworthy while the data look like last quarter.
Two checks, each comparing a *current* window (the last ``recent_days`` days) with a *reference*
window (the ``reference_days`` days just before it, by default as long as the current window):

- :func:`demand_drift`: the daily units of each of the client's largest items, and the client's
  daily total, recent vs reference. Stock-out days are left out (sales there are not demand).
- :func:`residual_drift`: the backtest residuals (actual - point) of each model, scale-free, one
  per item and date, at the horizon steps both windows share, recent vs reference: a model whose
  errors changed distribution has gone stale.

Both run Evidently's ``DataDriftPreset`` (Evidently 0.7, ``Report([DataDriftPreset()])``), which
picks a test per column (reference of up to 1000 rows: two-sample Kolmogorov-Smirnov for columns
with more than 5 distinct values, chi-squared for 3 to 5, a proportion Z-test for 2; larger
samples: normed Wasserstein distance, or Jensen-Shannon for few distinct values) with the test's
default threshold (p < 0.05 for the tests, distance >= 0.1), and calls the data drifted when the
share of drifted columns is at least ``drift_share``.

Each returns a :class:`DriftResult`: a small JSON-safe ``summary`` (drift detected, share of
drifted columns, per column method, score, p-value and verdict, window bounds) and the HTML report.
Windows with fewer than ``min_rows`` observations, or columns that never vary, are not tested:
with too little data nothing is said ("not_enough_data") instead of raising or guessing.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_RECENT_DAYS = 28
DEFAULT_MIN_ROWS = 14
TOTAL_COLUMN = "total_units"


@dataclass
class DriftResult:
    summary: dict[str, Any]
    html: str | None = field(default=None, repr=False)

    @property
    def drift_detected(self) -> bool:
        return bool(self.summary.get("drift_detected", False))


def _windows(
    end: pd.Timestamp, recent_days: int, reference_days: int | None
) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    if recent_days < 1:
        raise ValueError(f"recent_days must be >= 1, got {recent_days}")
    reference_days = recent_days if reference_days is None else reference_days
    if reference_days < 1:
        raise ValueError(f"reference_days must be >= 1, got {reference_days}")
    current_start = end - pd.Timedelta(days=recent_days)  # exclusive
    reference_start = current_start - pd.Timedelta(days=reference_days)  # exclusive
    return reference_start, current_start, end


def _bounds(frame: pd.DataFrame, dates: pd.Series) -> dict[str, Any]:
    if dates.empty:
        return {"start": None, "end": None, "rows": 0}
    return {"start": str(dates.min().date()), "end": str(dates.max().date()), "rows": len(frame)}


def _not_enough(reason: str, **extra: Any) -> DriftResult:
    summary = {
        "status": "not_enough_data",
        "drift_detected": False,
        "share_drifted": None,
        "n_columns": 0,
        "n_drifted": 0,
        "columns": {},
        "methods": [],
        "reason": reason,
        **extra,
    }
    return DriftResult(summary=summary, html=None)


def _usable_columns(
    reference: pd.DataFrame, current: pd.DataFrame, min_rows: int
) -> tuple[list[str], dict[str, str]]:
    """Columns worth testing, and why the others were skipped."""
    usable, skipped = [], {}
    for column in reference.columns:
        ref, cur = reference[column].dropna(), current[column].dropna()
        if len(ref) < min_rows or len(cur) < min_rows:
            skipped[str(column)] = f"fewer than {min_rows} values in a window"
        elif pd.concat([ref, cur]).nunique() <= 1:
            skipped[str(column)] = "constant in both windows"
        else:
            usable.append(column)
    return usable, skipped


def _run_evidently(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    drift_share: float,
    method: str | None,
    include_html: bool,
) -> tuple[dict[str, Any], str | None]:
    """Run ``DataDriftPreset`` and read Evidently's own per-column verdicts from its tests."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    columns = list(reference.columns)
    definition = DataDefinition(numerical_columns=columns)
    report = Report([DataDriftPreset(drift_share=drift_share, method=method)], include_tests=True)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        snapshot = report.run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )
        html = snapshot.get_html_str(as_iframe=False) if include_html else None
    result = snapshot.dict()
    per_column: dict[str, dict[str, Any]] = {}
    share = None
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            method_name = str(config.get("method"))
            score = float(metric["value"])
            per_column[config["column"]] = {
                "method": method_name,
                "score": score,
                "p_value": score if "p_value" in method_name else None,
                "threshold": config.get("threshold"),
                "drifted": False,
            }
        elif config["type"].endswith("DriftedColumnsCount"):
            share = float(metric["value"]["share"])
    for test in result.get("tests", []):
        params = test.get("metric_config", {}).get("params", {})
        if params.get("type", "").endswith("ValueDrift") and params.get("column") in per_column:
            per_column[params["column"]]["drifted"] = test["status"] == "FAIL"
    n_drifted = sum(c["drifted"] for c in per_column.values())
    if share is None:
        share = n_drifted / len(columns)
    summary = {
        "status": "ok",
        "drift_detected": bool(share >= drift_share),
        "share_drifted": share,
        "n_columns": len(columns),
        "n_drifted": int(n_drifted),
        "drift_share_threshold": drift_share,
        "columns": per_column,
        "methods": sorted({c["method"] for c in per_column.values()}),
    }
    return summary, html


def compare_windows(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    min_rows: int = DEFAULT_MIN_ROWS,
    drift_share: float = 0.5,
    method: str | None = None,
    include_html: bool = True,
    html_path: str | Path | None = None,
) -> DriftResult:
    """Drift of every numerical column of ``current`` against ``reference`` (same columns).

    Columns with fewer than ``min_rows`` non-null values in either window, or with a single value
    across both, are skipped (listed in ``summary['skipped']``); with none left the result is
    ``not_enough_data``. ``method`` overrides Evidently's per-column choice (e.g. ``"ks"``,
    ``"wasserstein"``, ``"psi"``). With ``html_path`` the HTML report is also written there.
    """
    if not 0 < drift_share <= 1:
        raise ValueError(f"drift_share must be in (0, 1], got {drift_share}")
    reference = reference.copy()
    current = current.copy()
    reference.columns = [str(c) for c in reference.columns]
    current.columns = [str(c) for c in current.columns]
    common = [c for c in reference.columns if c in current.columns]
    usable, skipped = _usable_columns(reference[common], current[common], min_rows)
    if not usable:
        return _not_enough(
            f"no column has {min_rows}+ values in both windows and any variation", skipped=skipped
        )
    summary, html = _run_evidently(
        reference[usable].astype(float), current[usable].astype(float), drift_share, method, include_html
    )
    summary["skipped"] = skipped
    summary["html_path"] = None
    if html is not None and html_path is not None:
        path = Path(html_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
        summary["html_path"] = str(path)
    return DriftResult(summary=summary, html=html)


def demand_features(demand: pd.DataFrame, items: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per date: units of each item (NaN before its first sale and on stock-out days)
    and the client's total over the items with data that day."""
    frame = demand.assign(date=pd.to_datetime(demand["date"]), units=demand["units_sold"].astype(float))
    if "is_stockout" in frame.columns:
        frame.loc[frame["is_stockout"] == 1, "units"] = np.nan
    wide = frame.pivot_table(index="date", columns="item_id", values="units", aggfunc="sum", dropna=False)
    wide = wide.reindex(pd.date_range(wide.index.min(), wide.index.max(), freq="D")) if len(wide) else wide
    total = wide.sum(axis=1, min_count=1)
    if items is not None:
        wide = wide.reindex(columns=list(items))
    wide.columns = [str(c) for c in wide.columns]
    wide.insert(0, TOTAL_COLUMN, total)
    wide.index.name = "date"
    return wide


def demand_drift(
    demand: pd.DataFrame,
    as_of: pd.Timestamp | str | None = None,
    recent_days: int = DEFAULT_RECENT_DAYS,
    reference_days: int | None = None,
    max_items: int = 50,
    min_rows: int = DEFAULT_MIN_ROWS,
    drift_share: float = 0.5,
    method: str | None = None,
    include_html: bool = True,
    html_path: str | Path | None = None,
) -> DriftResult:
    """Recent daily demand of one client against the window before it.

    ``demand`` is the client's ``ts_demand_daily`` (item_id, date, units_sold, optional
    is_stockout). The current window is the ``recent_days`` days up to ``as_of`` (default: the last
    date); the reference the ``reference_days`` days before (default ``recent_days``). Columns:
    ``total_units`` and the ``max_items`` items with the most units over both windows (bounding
    the report's size for clients with many items).
    """
    if demand.empty:
        return _not_enough("no demand rows")
    dates = pd.to_datetime(demand["date"])
    end = pd.Timestamp(as_of) if as_of is not None else dates.max()
    reference_start, current_start, end = _windows(end, recent_days, reference_days)
    in_scope = demand[(dates > reference_start) & (dates <= end)]
    volume = in_scope.groupby("item_id")["units_sold"].sum().sort_values(ascending=False, kind="stable")
    items = list(volume.index[:max_items])
    features = demand_features(demand, items)
    reference = features[(features.index > reference_start) & (features.index <= current_start)]
    current = features[(features.index > current_start) & (features.index <= end)]
    windows = {
        "reference": _bounds(reference, reference.index.to_series()),
        "current": _bounds(current, current.index.to_series()),
    }
    if len(reference) < min_rows or len(current) < min_rows:
        return _not_enough(f"fewer than {min_rows} days in a window", **windows)
    result = compare_windows(reference, current, min_rows, drift_share, method, include_html, html_path)
    result.summary.update(windows)
    return result


def scaled_residuals(scored: pd.DataFrame) -> pd.DataFrame:
    """One scale-free residual per model, item and target date: the forecast with the shortest lead.

    Returns model, item_id, date, step, residual (actual - point) and scaled (the residual over
    the row's seasonal ``scale``, or over the item's mean actual where the scale is undefined:
    too short or flat a history). Rows with neither are dropped. Where several backtest cutoffs
    forecast the same date, only the one closest to it (smallest step) is kept, so a date counts
    once and a window is not weighted towards the dates most cutoffs reach.
    """
    frame = scored.assign(
        date=pd.to_datetime(scored["date"]),
        residual=scored["actual"].astype(float) - scored["point"].astype(float),
    )
    if "step" not in frame.columns:
        if "cutoff" in frame.columns:
            frame["step"] = (frame["date"] - pd.to_datetime(frame["cutoff"])).dt.days
        else:
            frame["step"] = 1
    scale = frame["scale"].astype(float) if "scale" in frame.columns else pd.Series(np.nan, index=frame.index)
    mean_demand = frame.groupby("item_id")["actual"].transform("mean").astype(float)
    scale = scale.where(scale > 0, mean_demand.where(mean_demand > 0))
    frame["scaled"] = frame["residual"] / scale
    frame = frame.dropna(subset=["scaled"])
    frame = frame.sort_values(["model", "item_id", "date", "step"], kind="stable")
    frame = frame.drop_duplicates(["model", "item_id", "date"], keep="first")
    return frame[["model", "item_id", "date", "step", "residual", "scaled"]].reset_index(drop=True)


def shared_steps(reference_steps: pd.Series, current_steps: pd.Series) -> list[int]:
    """The horizon steps both windows hold: only those are compared, so neither window's errors
    come from longer (harder) lead times than the other's."""
    return sorted(int(s) for s in set(reference_steps.dropna()) & set(current_steps.dropna()))


def residual_drift(
    scored: pd.DataFrame,
    recent_days: int = DEFAULT_RECENT_DAYS,
    reference_days: int | None = None,
    end: pd.Timestamp | str | None = None,
    min_rows: int = DEFAULT_MIN_ROWS,
    drift_share: float = 0.5,
    method: str | None = None,
    include_html: bool = True,
    html_path: str | Path | None = None,
) -> DriftResult:
    """Scale-free backtest errors of each model, recent target dates vs the ones before, like
    compared with like.

    ``scored`` is a scored frame (model, item_id, date, actual, point; optionally cutoff, step and
    scale), e.g. from :func:`forecast_assets.core.evaluation.scoring.scored_rows`. Windows are cut
    on the target date, ending at ``end`` (default: the last scored date). One column per model,
    ``residual_<model>``, one row per (item, date), built so that on data whose errors did not
    change the two windows hold draws of the same distribution:

    - **scale-free**: each residual (actual - point) is divided by the item's seasonal scale (the
      MASE denominator, from the data up to the cutoff), or by the item's mean demand where that
      is undefined. Raw units would pool a 2-a-day item with a 2000-a-day one, and any change in
      which items have rows in a window would read as drift.
    - **one forecast per item and date**: with rolling cutoffs ``BACKTEST_STEP_DAYS`` apart a date
      is forecast from several cutoffs, more often in the recent window than before it; only the
      forecast with the smallest step (closest cutoff) is kept, so no date counts twice.
    - **the same horizon steps**: errors grow with the lead time, and the recent window is
      reached by the latest cutoff at every step up to the horizon while the window before only
      at short steps. Both windows keep only the steps they share (with the production defaults,
      3 windows 7 days apart, horizon 28, recent window 28 days: steps 1-7, i.e. the first week
      after the latest cutoff against the two weeks after the earlier ones).

    Why backtest residuals and not live accuracy (forecasts of earlier ``as_of`` dates scored on
    what then sold, which would test the served forecasts themselves): the backtest exists from
    a client's first evaluation and has the same cutoffs for every model, while live accuracy
    needs weeks of stored origins, run on whatever schedule the client has, before both windows
    are filled at matching steps. The summary says which steps were compared (``steps``).
    """
    if scored.empty:
        return _not_enough("no scored rows")
    residuals = scaled_residuals(scored)
    last = pd.Timestamp(end) if end is not None else residuals["date"].max()
    reference_start, current_start, last = _windows(last, recent_days, reference_days)
    in_reference = (residuals["date"] > reference_start) & (residuals["date"] <= current_start)
    in_current = (residuals["date"] > current_start) & (residuals["date"] <= last)
    steps = shared_steps(residuals.loc[in_reference, "step"], residuals.loc[in_current, "step"])
    residuals = residuals[(in_reference | in_current) & residuals["step"].isin(steps)]
    wide = residuals.pivot_table(index=["item_id", "date"], columns="model", values="scaled", aggfunc="mean")
    wide.columns = [f"residual_{m}" for m in wide.columns]
    wide = wide.reset_index()
    in_reference = wide["date"] <= current_start
    value_columns = [c for c in wide.columns if c.startswith("residual_")]
    reference, current = wide.loc[in_reference, value_columns], wide.loc[~in_reference, value_columns]
    windows = {
        "reference": _bounds(reference, wide.loc[in_reference, "date"]),
        "current": _bounds(current, wide.loc[~in_reference, "date"]),
        "steps": steps,
    }
    if len(reference) < min_rows or len(current) < min_rows:
        return _not_enough(f"fewer than {min_rows} comparable scored rows in a window", **windows)
    result = compare_windows(
        reference.reset_index(drop=True),
        current.reset_index(drop=True),
        min_rows,
        drift_share,
        method,
        include_html,
        html_path,
    )
    result.summary.update(windows)
    return result
