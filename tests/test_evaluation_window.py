"""An evaluation reads the recent weeks of demand, not the whole history, and scores exactly as
if it had read everything: the seasonal scales (the one part that needs the whole history) are
computed over it item slice by item slice, on both backends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from forecast_assets.core.evaluation.client import ChampionRule, evaluate_client, evaluation_window_start
from forecast_assets.core.evaluation.metrics import seasonal_scales
from forecast_assets.defs.inputs import load_seasonal_scales
from forecast_assets.resources.warehouse import TableWrite

AS_OF = pd.Timestamp("2026-06-30")
HORIZON = 7
QUANTILES = (0.1, 0.5, 0.9)
ITEMS = ("a", "b", "c", "d", "e")
CUTOFFS = [AS_OF - pd.Timedelta(days=HORIZON * k) for k in (3, 2, 1)]
EARLIER = [AS_OF - pd.Timedelta(days=k) for k in (5, 2)]  # live origins still being scored


def _demand(days: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    dates = pd.date_range(end=AS_OF, periods=days)
    frames = []
    for k, item in enumerate(ITEMS):
        start = 0 if item != "e" else days - 60  # a new item, whose history starts late
        units = rng.poisson(3.0 + 2 * k, days - start).astype(float)
        frame = pd.DataFrame({"item_id": item, "date": dates[start:], "units_sold": units, "is_stockout": 0})
        frames.append(frame)
    demand = pd.concat(frames, ignore_index=True)
    demand.loc[
        (demand["item_id"] == "b") & (demand["date"] == AS_OF - pd.Timedelta(days=3)), "is_stockout"
    ] = 1
    return demand


def _forecast(kind: str, origin: pd.Timestamp, model: str, bias: float) -> pd.DataFrame:
    rows = []
    for k, item in enumerate(ITEMS):
        for step in range(1, HORIZON + 1):
            point = 3.0 + 2 * k + bias * step
            rows.append(
                {
                    "kind": kind,
                    "as_of": AS_OF if kind == "backtest" else origin,
                    "cutoff": origin,
                    "model": model,
                    "item_id": item,
                    "date": origin + pd.Timedelta(days=step),
                    "step": step,
                    "point": point,
                    "q10": point - 2,
                    "q50": point,
                    "q90": point + 2,
                }
            )
    return pd.DataFrame(rows)


def _forecasts() -> pd.DataFrame:
    models = {"seasonal_naive": 0.3, "auto_ets": -0.1, "lightgbm": 0.05}
    parts = [_forecast("backtest", c, m, b) for c in CUTOFFS for m, b in models.items()]
    parts += [_forecast("forecast", AS_OF, m, b) for m, b in models.items()]
    return pd.concat(parts, ignore_index=True)


def _earlier() -> list[pd.DataFrame]:
    return [_forecast("forecast", o, m, 0.2) for o in EARLIER for m in ("auto_ets", "lightgbm")]


def _evaluate(demand: pd.DataFrame, scales: pd.DataFrame | None = None):
    return evaluate_client(
        demand,
        _forecasts(),
        _earlier(),
        pd.DataFrame(columns=["item_id", "champion_model"]),
        AS_OF,
        QUANTILES,
        ChampionRule("mase", 0.0, "item"),
        drift_recent_days=28,  # the default: the drift windows reach exactly to the read's first day
        scales=scales,
    )


@pytest.mark.parametrize(
    ("origins", "recent", "start"),
    [
        ([], 35, "2026-04-21"),  # no origin: the two drift windows (70 days)
        ([], 10, "2026-05-05"),  # short drift windows: the fan chart's 56 days
        (["2026-06-09", "2026-06-23"], 7, "2026-05-05"),  # recent origins: the chart reaches further
        (["2026-03-01", "2026-06-23"], 28, "2026-03-01"),  # an old origin still scored: from it
    ],
)
def test_the_window_starts_at_the_earliest_day_anything_scored_or_shown_needs(origins, recent, start):
    found = evaluation_window_start(AS_OF, [pd.Timestamp(o) for o in origins], recent)
    assert found == pd.Timestamp(start)


def test_an_evaluation_of_the_window_with_whole_history_scales_equals_one_of_the_whole_history():
    demand = _demand()
    origins = [*CUTOFFS, *EARLIER]
    since = evaluation_window_start(AS_OF, origins, drift_recent_days=28)
    window = demand[demand["date"] > since]
    assert len(window) < len(demand) / 4
    whole = _evaluate(demand)
    windowed = _evaluate(window, scales=seasonal_scales(demand, origins))
    pd.testing.assert_frame_equal(windowed.table, whole.table)
    pd.testing.assert_frame_equal(windowed.live, whole.live)
    pd.testing.assert_frame_equal(windowed.champions, whole.champions)
    assert whole.drift["demand_drift"].summary["status"] == "ok"
    assert {k: r.summary for k, r in windowed.drift.items()} == {k: r.summary for k, r in whole.drift.items()}
    # Without the whole history's scales the window alone would give other MASE values.
    alone = _evaluate(window)
    assert not np.allclose(alone.table["mase"], whole.table["mase"], equal_nan=True)


def test_scales_read_in_item_slices_equal_the_whole_history_s(warehouse):
    demand = _demand()
    table = pl.from_pandas(demand).with_columns(pl.col("date").dt.date())
    warehouse.replace_client_rows("shop_a", [TableWrite("analytics.ts_demand_daily", table)])
    other = table.with_columns(pl.col("units_sold") * 10)  # another client's rows never count
    warehouse.replace_client_rows("shop_b", [TableWrite("analytics.ts_demand_daily", other)])
    origins = [*CUTOFFS, *EARLIER]
    got = load_seasonal_scales(warehouse, "shop_a", origins, slice_items=2)  # three slices of five items
    want = seasonal_scales(demand, origins)
    key = ["item_id", "cutoff"]
    pd.testing.assert_frame_equal(
        got.sort_values(key, ignore_index=True), want.sort_values(key, ignore_index=True), check_dtype=False
    )
