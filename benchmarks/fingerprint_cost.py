"""What fingerprinting a client's origins costs at M5 size, global model against baselines.

Run on purpose (never in the test suite):

    nice .venv/bin/python benchmarks/fingerprint_cost.py [--items 30490] [--rounds 2]

Builds a client's demand (``ts_demand_daily``'s columns) and calendar (``covariate_calendar``'s)
for ``--items`` items over 730 days in memory, and times, for a daily run's four origins, the
global model's ``origin_fingerprints`` (demand, calendar and events, by date prefix) against the
baselines' ``demand_fingerprints`` of the same demand (their 365-day window), in one process,
alternating. Both run once per step of every run, whether or not anything is refitted.

To compare two checkouts, run each one's copy with ``PYTHONPATH`` set to that checkout: the
project is installed editable, so without it both would import the same code.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd

from forecast_assets.core.forecasting.baselines import baseline_inputs
from forecast_assets.core.forecasting.frame import DEFAULT_QUANTILES
from forecast_assets.core.forecasting.global_model import (
    ClientFrames,
    GlobalModelConfig,
    global_spec,
    origin_fingerprints,
)
from forecast_assets.core.forecasting.reuse import demand_fingerprints

DAYS, HORIZON = 730, 28


def client(items: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.Series]:
    """Demand, calendar, events and categories of ``items`` items (random values: only the
    shapes and types matter to the cost)."""
    rng = np.random.default_rng(0)
    ids = np.array([f"FOODS_3_{i:05d}" for i in range(items)])
    dates = pd.date_range("2024-01-01", periods=DAYS)
    n = items * DAYS
    demand = pd.DataFrame(
        {"client_id": "m5", "item_id": np.repeat(ids, DAYS), "date": np.tile(dates, items),
         "units_sold": rng.poisson(2, n).astype(float), "price": np.repeat(rng.uniform(1, 9, items), DAYS),
         "promo_flag": 0, "promo_discount": 0.0, "is_stockout": 0}
    )  # fmt: skip
    days = pd.date_range("2024-01-01", periods=DAYS + HORIZON)
    calendar = pd.DataFrame(
        {"client_id": "m5", "item_id": np.repeat(ids, len(days)), "date": np.tile(days, items),
         "iso_weekday": 1, "is_weekend": 0, "month": 1, "is_holiday": 0, "holiday_name": None,
         "days_to_holiday": 30, "promo_flag": 0, "promo_discount": 0.0, "planned_price": 2.0, "is_future": 0}
    )  # fmt: skip
    events = pd.DataFrame({"date": days, "event_snap": 0.0})
    categories = pd.Series(rng.choice(["FOODS_1", "FOODS_2", "FOODS_3"], items), index=ids)
    return demand, calendar, events, categories


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=30490)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    demand, calendar, events, categories = client(args.items)
    as_of = demand["date"].max()
    cutoffs = [as_of] + [as_of - pd.Timedelta(days=HORIZON + 7 * k) for k in range(3)]
    spec = global_spec(GlobalModelConfig(), HORIZON, DEFAULT_QUANTILES, 84)
    held = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.items:,} items x {DAYS} days: demand {len(demand):,} rows, calendar {len(calendar):,}; "
          f"peak RSS with the frames built {held:,.0f} MB")  # fmt: skip
    for round_ in range(1, args.rounds + 1):
        started = time.perf_counter()
        demand_fingerprints(baseline_inputs(demand), cutoffs, spec, window_days=365)
        baselines = time.perf_counter() - started
        started = time.perf_counter()
        origin_fingerprints(ClientFrames.of(demand, calendar), cutoffs, spec, HORIZON, events, categories)
        global_ = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"round {round_}: baselines {baselines:.1f} s, global {global_:.1f} s "
              f"(ratio {global_ / baselines:.2f}); peak RSS so far {peak:,.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
