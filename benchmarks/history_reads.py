"""What a long history costs the steps that look back a bounded window: whole-history reads
against the bounded ones, on a generated client with M5's 5.3 years of daily demand.

Run on purpose (never in the test suite):

    .venv/bin/python benchmarks/history_reads.py                      # 1,000 items, 1,941 days
    .venv/bin/python benchmarks/history_reads.py --items 3000 --runs 28

It writes ``analytics.ts_demand_daily`` for ``--items`` items over ``--days`` days, a backtest
(3 cutoffs) and a live forecast of ``--models`` models at ``as_of``, and the live forecasts of
``--runs`` earlier daily runs, to a DuckDB warehouse under ``--home``. Then each step's input
is read both ways, each way in a fresh process (its peak RSS is that process's):

- ``baselines``: the demand up to ``as_of`` and every origin's fingerprint, against only the days
  their windows read (``BASELINE_HISTORY_DAYS``) with windowed fingerprints;
- ``inventory``: the whole history, against its class window and backtest days;
- ``evaluation``: the whole evaluation (``evaluate_client``) from the whole history with every
  changed earlier origin in one frame, against the recent window, the seasonal scales read in
  item slices and the earlier origins one at a time.

Printed per step and way: demand rows read, seconds, peak RSS and the RSS after imports (what
the process holds before reading anything), and the bounded way's ratios to the whole one. The
forecasts are the same either way (tests/test_baselines_parallel.py,
tests/test_evaluation_window.py); only the cost differs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CLIENT = "history_bench"
AS_OF = pd.Timestamp("2026-10-31")
HORIZON = 28
STEP_DAYS = 7
WINDOWS = 3
QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
WAYS = ("whole", "bounded")


def _url(home: Path) -> str:
    return f"duckdb:///{home / 'warehouse.duckdb'}"


def _forecast_rows(
    as_of: pd.Timestamp, kind: str, cutoff: pd.Timestamp, items: np.ndarray, models: list[str]
):
    n, m = len(items), len(models)
    steps = np.arange(1, HORIZON + 1)
    point = np.tile(np.repeat(np.linspace(1.0, 20.0, n), HORIZON), m)
    frame = pl.DataFrame(
        {
            "as_of": [as_of.date()] * (n * HORIZON * m),
            "kind": kind,
            "cutoff": cutoff.date(),
            "model": np.repeat(models, n * HORIZON),
            "item_id": np.tile(np.repeat(items, HORIZON), m),
            "date": np.tile(
                np.tile((cutoff + pd.to_timedelta(steps, unit="D")).values.astype("datetime64[D]"), n), m
            ),
            "step": np.tile(np.tile(steps, n), m),
            "point": point,
        }
    )
    return frame.with_columns(
        [(pl.col("point") * (0.5 + q)).alias(f"q{round(q * 100):02d}") for q in QUANTILES]
    )


def build(home: Path, n_items: int, days: int, n_models: int, runs: int) -> None:
    """The client's demand, today's backtest and forecast, and ``runs`` earlier live forecasts."""
    from forecast_assets.resources.warehouse import TableWrite, Warehouse

    warehouse = Warehouse(url=_url(home))
    rng = np.random.default_rng(0)
    items = np.array([f"SKU-{i:06d}" for i in range(n_items)])
    dates = pd.date_range(end=AS_OF, periods=days)
    level = rng.lognormal(1.0, 0.8, n_items)
    units = rng.poisson(np.repeat(level, days)).astype(float)
    demand = pl.DataFrame(
        {
            "item_id": np.repeat(items, days),
            "date": np.tile(dates.values.astype("datetime64[D]"), n_items),
            "units_sold": units,
            "price": np.repeat(rng.uniform(1, 30, n_items), days),
            "promo_flag": 0,
            "promo_discount": 0.0,
            "is_stockout": (rng.random(n_items * days) < 0.01).astype(np.int32),
        }
    )
    warehouse.replace_client_rows(CLIENT, [TableWrite("analytics.ts_demand_daily", demand)])
    models = ["seasonal_naive"] + [f"model_{k}" for k in range(1, n_models)]
    today = [_forecast_rows(AS_OF, "forecast", AS_OF, items, models)]
    for k in range(WINDOWS, 0, -1):
        cutoff = AS_OF - pd.Timedelta(days=HORIZON + STEP_DAYS * (k - 1))
        today.append(_forecast_rows(AS_OF, "backtest", cutoff, items, models))
    write = TableWrite("ml.baseline_forecast", pl.concat(today), {"as_of": AS_OF.date()})
    warehouse.replace_client_rows(CLIENT, [write])
    for r in range(1, runs + 1):
        origin = AS_OF - pd.Timedelta(days=r)
        rows = _forecast_rows(origin, "forecast", origin, items, models)
        write = TableWrite("ml.baseline_forecast", rows, {"as_of": origin.date()})
        warehouse.replace_client_rows(CLIENT, [write])
    # The previous evaluation: yesterday's, so the earlier origins read are the changed ones.
    previous = pl.DataFrame({"as_of": [(AS_OF - pd.Timedelta(days=1)).date()], "model": ["x"]})
    write = TableWrite("ml.forecast_evaluation", previous, {"as_of": previous["as_of"][0]})
    warehouse.replace_client_rows(CLIENT, [write])


def measure(home: Path, step: str, way: str) -> dict:
    """The child: read one step's inputs one way; rows, seconds, peak and starting RSS."""
    from forecast_assets.core.evaluation.client import ChampionRule, evaluate_client, evaluation_window_start
    from forecast_assets.core.forecasting.baselines import baseline_inputs, history_start
    from forecast_assets.core.forecasting.reuse import demand_fingerprints
    from forecast_assets.core.inventory.demand import demand_window_start
    from forecast_assets.defs.inputs import (
        earlier_origins,
        load_demand,
        load_earlier_forecasts,
        load_forecasts,
        load_seasonal_scales,
        previous_evaluation,
    )
    from forecast_assets.resources.warehouse import Warehouse
    from forecast_assets.settings import Settings

    settings = Settings.from_env()
    warehouse = Warehouse(url=_url(home))
    start_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    bounded = way == "bounded"
    forecasts = load_forecasts(warehouse, CLIENT, AS_OF)
    cutoffs = [AS_OF, *pd.to_datetime(forecasts.loc[forecasts["kind"] == "backtest", "cutoff"].unique())]
    if step == "baselines":
        window = settings.baseline_history_days
        since = history_start(cutoffs, window) if bounded else None
        demand = load_demand(warehouse, CLIENT, until=AS_OF, since=since)
        demand_fingerprints(
            baseline_inputs(demand), cutoffs, {"spec": 1}, window_days=window if bounded else 0
        )
    elif step == "inventory":
        since = demand_window_start(forecasts, AS_OF) if bounded else None
        demand = load_demand(warehouse, CLIENT, until=AS_OF, since=since)
    else:
        previous = previous_evaluation(warehouse, CLIENT, AS_OF)
        earlier = earlier_origins(warehouse, CLIENT, AS_OF, previous)
        origins = [*cutoffs[1:], *earlier]
        rule = ChampionRule("mase", 0.0, "item")
        incumbents = pd.DataFrame(columns=["item_id", "champion_model"])
        if bounded:
            since = evaluation_window_start(AS_OF, origins, 28)
            demand = load_demand(warehouse, CLIENT, until=AS_OF, since=since)
            scales = load_seasonal_scales(warehouse, CLIENT, origins)
            live = load_earlier_forecasts(warehouse, CLIENT, AS_OF, earlier)
            evaluate_client(demand, forecasts, live, incumbents, AS_OF, QUANTILES, rule, 28, scales=scales)
        else:  # as before: the whole history, every changed origin in one frame
            demand = load_demand(warehouse, CLIENT, until=AS_OF)
            live = [pd.concat(load_earlier_forecasts(warehouse, CLIENT, AS_OF, earlier), ignore_index=True)]
            evaluate_client(demand, forecasts, live, incumbents, AS_OF, QUANTILES, rule, 28)
    return {
        "rows": len(demand),
        "seconds": time.perf_counter() - started,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "start_mb": start_mb,
    }


def run_child(home: Path, step: str, way: str) -> dict:
    command = [sys.executable, __file__, "--home", str(home), "--child", step, way]
    child = subprocess.run(command, capture_output=True, text=True, check=False)
    line = next((s for s in child.stdout.splitlines() if s.startswith("RESULT ")), None)
    if line is None:
        sys.exit(f"{step} ({way}) failed:\n{child.stdout[-3000:]}\n{child.stderr[-3000:]}")
    return json.loads(line.removeprefix("RESULT "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1000, help="items (default 1,000)")
    parser.add_argument("--days", type=int, default=1941, help="days of history (default M5's 1,941)")
    parser.add_argument("--models", type=int, default=8, help="models per origin (default 8)")
    parser.add_argument("--runs", type=int, default=28, help="earlier daily runs stored (default 28)")
    parser.add_argument("--home", type=Path, default=REPO / "var" / "history_reads", help="working folder")
    parser.add_argument("--steps", nargs="+", default=["baselines", "inventory", "evaluation"])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.child:
        print("RESULT " + json.dumps(measure(args.home, *args.child)), flush=True)
        return
    home = args.home.resolve()
    if home.exists():
        subprocess.run(["rm", "-rf", str(home)], check=True)
    home.mkdir(parents=True)
    started = time.perf_counter()
    build(home, args.items, args.days, args.models, args.runs)
    print(
        f"== {args.items} items x {args.days} days, {args.models} models, {args.runs} earlier runs: "
        f"written in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    print("\n| step | read | demand rows | s | peak RSS MB | RSS after imports MB |")
    print("| --- | --- | --- | --- | --- | --- |")
    for step in args.steps:
        found = {way: run_child(home, step, way) for way in WAYS}
        for way, r in found.items():
            print(
                f"| {step} | {way} | {r['rows']:,} | {r['seconds']:.1f} | {r['peak_mb']:.0f} "
                f"| {r['start_mb']:.0f} |",
                flush=True,
            )
        whole, bounded = found["whole"], found["bounded"]
        grown = (bounded["peak_mb"] - bounded["start_mb"]) / max(whole["peak_mb"] - whole["start_mb"], 1e-9)
        print(
            f"| {step} | bounded / whole | {bounded['rows'] / whole['rows']:.2f} | "
            f"{bounded['seconds'] / whole['seconds']:.2f} | {bounded['peak_mb'] / whole['peak_mb']:.2f} "
            f"(growth {grown:.2f}) | |",
            flush=True,
        )


if __name__ == "__main__":
    main()
