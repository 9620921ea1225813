"""The statsforecast baselines give the same forecasts however their items are spread: one
process, several local processes (``BASELINE_N_JOBS``), or Ray tasks over item slices on a real
local Ray cluster (``RAY_ADDRESS``); and however much history is read before their window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast_assets.core.forecasting.baselines import (
    BaselineResult,
    LiveReport,
    forecast_baselines,
    forecast_baselines_from_origins,
    history_start,
)
from forecast_assets.core.forecasting.distributed import (
    forecast_baselines_on_ray,
    item_slices,
    merge_results,
)
from forecast_assets.core.forecasting.frame import DEFAULT_QUANTILES

HORIZON = 7
AS_OF = pd.Timestamp("2026-04-30")
CUTOFFS = [AS_OF, AS_OF - pd.Timedelta(days=HORIZON)]


def _demand(n_smooth: int = 6, n_intermittent: int = 3) -> pd.DataFrame:
    """Smooth weekly items, intermittent ones (Croston), one item too short for calibrated
    intervals and one too short for any model but the historic average; a few stock-out days."""
    rng = np.random.default_rng(7)
    days = pd.date_range(end=AS_OF, periods=90, freq="D")
    rows = []
    for i in range(n_smooth):
        level = 5 + 3 * i
        weekly = 1 + 0.4 * np.sin(2 * np.pi * np.arange(len(days)) / 7)
        rows.append(
            pd.DataFrame({"item_id": f"s{i}", "date": days, "units_sold": rng.poisson(level * weekly)})
        )
    for i in range(n_intermittent):
        sales = rng.poisson(4, len(days)) * (rng.random(len(days)) < 0.15)
        rows.append(pd.DataFrame({"item_id": f"i{i}", "date": days, "units_sold": sales}))
    rows.append(pd.DataFrame({"item_id": "mid", "date": days[-18:], "units_sold": rng.poisson(3, 18)}))
    rows.append(pd.DataFrame({"item_id": "short", "date": days[-10:], "units_sold": rng.poisson(3, 10)}))
    demand = pd.concat(rows, ignore_index=True)
    demand["units_sold"] = demand["units_sold"].astype(float)
    demand["is_stockout"] = 0
    demand.loc[(demand["item_id"] == "s0") & demand["date"].between(days[40], days[44]), "is_stockout"] = 1
    return demand


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["model", "item_id", "date"], ignore_index=True)


def _from_origins(*args, **kwargs) -> tuple[pd.DataFrame, LiveReport, int]:
    """The step's call: the rows handed to ``write`` (stacked), the live report, and how many
    times ``write`` was called."""
    written: list[pd.DataFrame] = []
    live = forecast_baselines_from_origins(*args, write=written.append, **kwargs)
    return pd.concat(written, ignore_index=True), live, len(written)


def _assert_same(left: BaselineResult, right: BaselineResult) -> None:
    assert len(left.forecasts) > 0
    pd.testing.assert_frame_equal(_sorted(left.forecasts), _sorted(right.forecasts), rtol=1e-9, atol=1e-9)
    assert left.skipped == right.skipped
    assert left.demand_classes == right.demand_classes


@pytest.fixture(scope="module")
def demand() -> pd.DataFrame:
    return _demand()


def test_parallel_processes_give_the_forecasts_of_one_process(demand):
    one = forecast_baselines(demand, AS_OF, HORIZON, DEFAULT_QUANTILES, n_jobs=1)
    two = forecast_baselines(demand, AS_OF, HORIZON, DEFAULT_QUANTILES, n_jobs=2)
    _assert_same(one, two)
    models = set(one.forecasts["model"])
    assert {"auto_ets", "auto_theta", "croston_sba", "historic_average"} <= models
    assert set(one.skipped) == {"mid", "short"}


def test_item_slices_cover_every_item_once():
    slices = item_slices(["b", "a", "c", "a", "e", "d"], 3)
    assert slices == [["a", "b"], ["c", "d"], ["e"]]
    assert item_slices(["a"], 4) == [["a"]]


def test_merged_slices_equal_the_whole_client(demand):
    """Every decision of forecast_baselines is per item, so disjoint slices add up to the client."""
    whole = forecast_baselines(demand, AS_OF, HORIZON, DEFAULT_QUANTILES)
    parts = [
        forecast_baselines(demand[demand["item_id"].isin(ids)], AS_OF, HORIZON, DEFAULT_QUANTILES)
        for ids in item_slices(demand["item_id"], 4)
    ]
    _assert_same(whole, merge_results(parts))


def test_a_step_fitted_in_item_slices_gives_the_whole_clients_forecast_and_reports_progress(demand):
    """Locally the items are fitted a slice at a time (memory bounded, a progress line after each
    slice); the rows are those of one fit over every item."""
    origins = [("forecast", CUTOFFS[0]), ("backtest", CUTOFFS[1])]
    args = (demand, origins, AS_OF, HORIZON, DEFAULT_QUANTILES)
    lines: list[str] = []
    whole, whole_live, whole_writes = _from_origins(*args, run_id="r", slice_items=10_000)
    sliced, sliced_live, sliced_writes = _from_origins(*args, run_id="r", slice_items=3, log=lines.append)
    order = ["kind", "cutoff", "model", "item_id", "date"]
    pd.testing.assert_frame_equal(
        whole.sort_values(order, ignore_index=True), sliced.sort_values(order, ignore_index=True)
    )
    assert sliced_live == whole_live
    assert whole_live.rows == len(whole[whole["kind"] == "forecast"]) > 0
    assert whole_live.problems == []
    assert {"auto_ets", "croston_sba", "historic_average"} <= whole_live.models
    # Handed over a slice of one origin at a time, so the step holds one slice's rows.
    assert (whole_writes, sliced_writes) == (2, 2 * -(-demand["item_id"].nunique() // 3))
    n_items = demand["item_id"].nunique()
    assert len(lines) == 2 * -(-n_items // 3)  # one per slice and origin
    last = f"baselines (origin {CUTOFFS[1].date()}): {2 * n_items}/{2 * n_items} item fits"
    assert lines[-1].startswith(last)


def test_ray_local_address_starts_a_cluster_fits_and_leaves_nothing_running(demand):
    """RAY_ADDRESS=local through the function the asset calls: a Ray cluster started for the call,
    the same rows as local processes, and shut down afterwards."""
    ray = pytest.importorskip("ray")
    assert not ray.is_initialized()
    origins = [("forecast", CUTOFFS[0]), ("backtest", CUTOFFS[1])]
    args = (demand, origins, AS_OF, HORIZON, DEFAULT_QUANTILES)
    local_rows, local_live, _ = _from_origins(*args, n_jobs=1, run_id="r")
    ray_rows, ray_live, _ = _from_origins(*args, run_id="r", ray_address="local")
    assert not ray.is_initialized()
    order = ["kind", "cutoff", "model", "item_id", "date"]
    pd.testing.assert_frame_equal(
        local_rows.sort_values(order, ignore_index=True),
        ray_rows.sort_values(order, ignore_index=True),
        rtol=1e-9,
        atol=1e-9,
    )
    assert ray_live == local_live


def test_ray_tasks_over_item_slices_match_local_execution(demand):
    """On a 2-CPU local Ray cluster, several slices per origin: the same forecasts per origin."""
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        results = forecast_baselines_on_ray(
            demand, CUTOFFS, HORIZON, DEFAULT_QUANTILES, 14, address="local", min_slice_items=2
        )
        assert ray.is_initialized()  # a connection the caller opened is left open
    finally:
        ray.shutdown()
    assert len(results) == len(CUTOFFS)
    for cutoff, result in zip(CUTOFFS, results, strict=True):
        _assert_same(forecast_baselines(demand, cutoff, HORIZON, DEFAULT_QUANTILES), result)


def test_the_baselines_read_only_their_history_window(demand):
    window = 45
    old = demand["date"] <= AS_OF - pd.Timedelta(days=window)
    changed = demand.copy()
    changed.loc[old, "units_sold"] *= 10
    base = forecast_baselines(demand, AS_OF, HORIZON, DEFAULT_QUANTILES, history_days=window)
    _assert_same(base, forecast_baselines(changed, AS_OF, HORIZON, DEFAULT_QUANTILES, history_days=window))
    whole = forecast_baselines(changed, AS_OF, HORIZON, DEFAULT_QUANTILES, history_days=0)
    ets = [r.forecasts[r.forecasts["model"] == "auto_ets"]["point"].to_numpy() for r in (base, whole)]
    assert not np.allclose(*ets), "with the whole history the older days reach the forecast"


@pytest.mark.parametrize(
    ("cutoffs", "history_days", "start"),
    [
        (["2026-04-30", "2026-04-23"], 30, "2026-03-24"),  # the earliest cutoff's window
        (["2026-04-23", "2026-04-30"], 30, "2026-03-24"),  # whatever their order
        (["2026-04-30"], 730, "2024-04-30"),
        (["2026-04-30", "2026-04-23"], 0, None),  # 0: every origin reads all of the history
        ([], 30, None),
    ],
)
def test_history_start_is_the_day_before_the_first_day_any_origin_reads(cutoffs, history_days, start):
    found = history_start([pd.Timestamp(c) for c in cutoffs], history_days)
    assert found == (pd.Timestamp(start) if start else None)


def test_reading_from_history_start_gives_the_forecasts_of_the_whole_history(demand):
    """What the baselines step reads (``since``) is all their windows read: stock-out imputation
    and demand classes included, nothing before it changes a forecast."""
    history_days = 40
    since = history_start(CUTOFFS, history_days)
    bounded = demand[demand["date"] > since]
    assert len(bounded) < len(demand)
    for cutoff in CUTOFFS:
        whole = forecast_baselines(demand, cutoff, HORIZON, DEFAULT_QUANTILES, history_days=history_days)
        read = forecast_baselines(bounded, cutoff, HORIZON, DEFAULT_QUANTILES, history_days=history_days)
        _assert_same(whole, read)
