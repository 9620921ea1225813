"""The global model's step in a daily schedule: a run whose backtest cutoffs were live origins.

Run on purpose (never in the test suite):

    nice .venv/bin/python benchmarks/daily_reuse.py [--items 150] [--as-of 2016-04-24]

For the first M5 client's top ``--items`` items it replays what the asset sees in production:
first the live forecasts of the run's backtest cutoffs (``as_of`` - 28 - 7k, k = 0..2: the
defaults' three windows), each on the data as delivered that day (sales up to it; a calendar
whose later days are still to come and whose planned price is that day's list price), storing their
fingerprints and calibrations as ``ml.forecast_origins`` and ``ml.global_calibration`` would;
then the daily run at ``as_of`` on the data delivered by then, whose backtests may be read back;
then that run again unchanged (a rerun or refresh of the same ``as_of``). It prints, for the
two runs at ``as_of``, the origins fitted and read back and the step's seconds
(``forecast_global_from_origins`` with the asset's defaults, one process).

M5 has no list prices: the list price of a day is the item's price that day times
``1 + --list-markup``. With 0 it is the price paid, which is also what a backtest re-bases the
plan on, so the frames of a live forecast and of the later backtest are the same; a retailer's
products table lists a price the average price paid is below (the demo's do), which the default
0.02 stands for.

To compare two versions of the code, run a copy of this file from each checkout (a worktree
beside this one, so ``../shared/data/m5`` is found): ``model_cost``, which it imports, puts its
own checkout first on ``sys.path``, so each copy runs its checkout's code (``PYTHONPATH`` does
not override that). The script uses only ``forecast_global_from_origins`` and its result.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
HORIZON, WINDOWS, STEP = 28, 3, 7  # the Settings defaults (FORECAST_HORIZON, BACKTEST_*)


def as_delivered(
    sales: pd.DataFrame, calendar: pd.DataFrame, day: pd.Timestamp, markup: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Demand and calendar as a client's delivery of ``day`` makes them (dbt's covariate_calendar):
    sales up to ``day``; the calendar to the end of the horizon, its later days still to come,
    planning with each item's list price of ``day`` (its price then, times ``1 + markup``)."""
    demand = sales[sales["date"] <= day]
    today = demand.groupby("item_id")["price"].last() * (1 + markup)
    cal = calendar[calendar["date"] <= day + pd.Timedelta(days=HORIZON)].copy()
    cal["is_future"] = (cal["date"] > day).astype(int)
    cal["planned_price"] = cal["item_id"].map(today) * (1 - cal["promo_discount"])
    return demand.reset_index(drop=True), cal.reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=150)
    parser.add_argument("--as-of", type=pd.Timestamp, default=pd.Timestamp("2016-04-24"))
    parser.add_argument("--list-markup", type=float, default=0.02, help="list price over the price paid")
    args = parser.parse_args()
    from model_cost import frames

    from forecast_assets.core.forecasting.frame import DEFAULT_QUANTILES
    from forecast_assets.core.forecasting.global_model import (
        ClientFrames,
        GlobalModelConfig,
        forecast_global_from_origins,
    )

    sales, calendar, events, categories = frames(args.items)
    config = GlobalModelConfig()
    fingerprints: dict[pd.Timestamp, str] = {}  # what ml.forecast_origins holds
    calibrations: dict = {}  # what ml.global_calibration holds (the objects, not their rows)

    def run(as_of: pd.Timestamp, backtests: list[pd.Timestamp]) -> tuple[float, list, int]:
        demand, cal = as_delivered(sales, calendar, as_of, args.list_markup)
        origins = [("forecast", as_of)] + [("backtest", c) for c in backtests]
        started = time.perf_counter()
        result = forecast_global_from_origins(
            ClientFrames.of(demand, cal), origins, as_of, HORIZON, DEFAULT_QUANTILES, config,
            client_id="m5", events=events,
            categories=categories, calibration_lookup=calibrations.get,
            reusable=lambda kind, cutoff, fingerprint: fingerprints.get(cutoff) == fingerprint,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        fingerprints.update(result.fingerprints)
        calibrations.update({c.fingerprint: c for c in result.calibrations})
        return seconds, result.reused, len(origins) - len(result.reused)

    cutoffs = [args.as_of - pd.Timedelta(days=HORIZON + k * STEP) for k in range(WINDOWS)][::-1]
    for cutoff in cutoffs:  # the live forecasts of earlier days, oldest first
        seconds, _, _ = run(cutoff, [])
        print(f"live forecast of {cutoff.date()} (seeding): {seconds:.1f} s")
    print(f"\n{args.items} M5 items, as_of {args.as_of.date()}, list markup {args.list_markup}\n")
    print("| run | origins fitted | backtests read back | step s |")
    print("|---|---|---|---|")
    for label in ("daily run", "the same as_of again"):
        seconds, reused, fitted = run(args.as_of, cutoffs)
        print(f"| {label} | {fitted} | {len(reused)} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
