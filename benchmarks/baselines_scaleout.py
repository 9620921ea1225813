"""The fit steps spread three ways over the same items: one local process (or thread), every
local core, and Ray tasks on a local Ray cluster of ``--ray-cpus`` workers (``RAY_ADDRESS``).

Run on purpose (never in the test suite):

    nice .venv/bin/python benchmarks/baselines_scaleout.py --items 200
    nice .venv/bin/python benchmarks/baselines_scaleout.py --model global --items 150 --backtests 3

``--model baselines`` (the default): the statsforecast baselines (what ``baseline_forecast``
calls) on a client from ``benchmarks/scale.py``'s generator (M5 proportions of smooth, erratic,
intermittent and lumpy items), gap-filled to one row per item and day as ``ts_demand_daily`` is;
one process is ``BASELINE_N_JOBS=1``, every core ``-1``. ``--model global``: the global LightGBM
members (what ``global_forecast`` calls, default settings) on the real M5 items of
``benchmarks/model_cost.py`` (at most 150), with their covariates; one thread is
``GLOBAL_MODEL_N_JOBS=1``, every core ``-1``, and on Ray each slice of each origin is a task.

Every mode forecasts the same items from the same origins (``as_of`` and ``--backtests`` weekly
backtest cutoffs, as the asset does), and the ratios divide by the one-process time of the same
run. The modes take turns for ``--repeat`` rounds and the fastest of each is kept. The Ray cluster
is started before the clock (a KubeRay cluster is long-lived; its workers stay warm between
rounds); its start is printed apart. The forecasts of every mode are checked against one
process's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from scale import END_DATE, generate  # noqa: E402

from forecast_assets.core.forecasting.baselines import forecast_baselines_from_origins  # noqa: E402
from forecast_assets.core.forecasting.frame import DEFAULT_QUANTILES  # noqa: E402

HORIZON = 28
LOCAL_MODES = {"1": {"n_jobs": 1}, "-1": {"n_jobs": -1}}  # one process or thread; every core


def demand_frame(n_items: int, days: int) -> pd.DataFrame:
    """One row per item and day (zeros where nothing sold), as the warehouse's ts_demand_daily."""
    sales = generate(n_items, days)["sales"].to_pandas()
    dates = pd.date_range(end=pd.Timestamp(END_DATE), periods=days, freq="D")
    grid = pd.MultiIndex.from_product([sorted(sales["item_id"].unique()), dates], names=["item_id", "date"])
    sales["date"] = pd.to_datetime(sales["date"])
    demand = sales.groupby(["item_id", "date"])["units_sold"].sum().reindex(grid, fill_value=0.0)
    return demand.reset_index().assign(is_stockout=0)


def baselines_run(args: argparse.Namespace, origins: list, as_of: pd.Timestamp):
    """(item count, fit(**engine) -> rows, the three modes' engine arguments) of the baselines."""
    demand = demand_frame(args.items, args.days)

    def fit(**engine) -> pd.DataFrame:
        run, written = (demand, origins, as_of, HORIZON, DEFAULT_QUANTILES), []
        forecast_baselines_from_origins(*run, write=written.append, **engine)
        return pd.concat(written, ignore_index=True)

    return demand["item_id"].nunique(), fit, LOCAL_MODES


def global_run(args: argparse.Namespace, origins: list, as_of: pd.Timestamp):
    """The same for the global LightGBM members on M5 items (their thread count is the mode)."""
    from dataclasses import replace

    from model_cost import frames

    from forecast_assets.core.forecasting.global_model import (
        ClientFrames,
        GlobalModelConfig,
        forecast_global_from_origins,
    )

    demand, calendar, events, categories = frames(args.items)

    def fit(n_jobs: int = -1, ray_address: str = "") -> pd.DataFrame:
        config = replace(GlobalModelConfig(), n_jobs=n_jobs)
        return forecast_global_from_origins(
            ClientFrames.of(demand, calendar), origins, as_of, HORIZON, DEFAULT_QUANTILES, config,
            client_id="m5",
            events=events, categories=categories, ray_address=ray_address,
        ).rows  # fmt: skip

    return demand["item_id"].nunique(), fit, LOCAL_MODES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["baselines", "global"], default="baselines")
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--days", type=int, default=730, help="history of a generated client")
    parser.add_argument("--backtests", type=int, default=0, help="backtest origins besides as_of")
    parser.add_argument("--ray-cpus", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2, help="rounds of the three modes")
    args = parser.parse_args()

    from model_cost import AS_OF as M5_AS_OF

    as_of = pd.Timestamp(END_DATE) if args.model == "baselines" else M5_AS_OF
    origins = [("forecast", as_of)] + [
        ("backtest", as_of - pd.Timedelta(days=HORIZON + 7 * k)) for k in range(args.backtests)
    ]
    items, fit, local = (baselines_run if args.model == "baselines" else global_run)(args, origins, as_of)
    series = items * len(origins)
    unit = "processes" if args.model == "baselines" else "threads"

    def timed(**kwargs) -> tuple[float, pd.DataFrame]:
        started = time.perf_counter()
        rows = fit(**kwargs)
        return time.perf_counter() - started, rows

    import ray

    started = time.perf_counter()
    ray.init(address="local", num_cpus=args.ray_cpus, include_dashboard=False, log_to_driver=False)
    start_s = time.perf_counter() - started
    order = ["kind", "cutoff", "model", "item_id", "date"]
    modes = {
        (f"local {unit}", "1"): local["1"],
        (f"local {unit}", f"-1 ({os.cpu_count()} cores)"): local["-1"],
        ("Ray tasks", f"{args.ray_cpus} workers"): {"ray_address": "local"},  # the open connection
    }
    best: dict[tuple[str, str], tuple[float, float]] = {}
    reference = None
    try:
        # The modes take turns, each round in the same order, so a neighbour's load on a shared
        # machine falls on every mode alike; the fastest round of each is kept.
        for _ in range(args.repeat):
            for mode, kwargs in modes.items():
                seconds, rows = timed(**kwargs)
                rows = rows.sort_values(order, ignore_index=True)
                reference = rows if reference is None else reference
                diff = float(np.abs(rows["point"] - reference["point"]).max())
                if mode not in best or seconds < best[mode][0]:
                    best[mode] = (seconds, diff)
                print(f"   {mode[0]} {mode[1]}: {seconds:.1f} s", flush=True)
    finally:
        ray.shutdown()
    one_s = best[(f"local {unit}", "1")][0]
    results = [(engine, workers, seconds, diff) for (engine, workers), (seconds, diff) in best.items()]

    print(f"\n{args.model}: {items} items x {len(origins)} origin(s), horizon {HORIZON}")
    print(f"Ray local cluster start (outside the clock): {start_s:.1f} s; best of {args.repeat} round(s)\n")
    print("| engine | workers | series | seconds | series/s | speed-up vs 1 | max abs diff |")
    print("|---|---|---|---|---|---|---|")
    for engine, workers, seconds, diff in results:
        print(
            f"| {engine} | {workers} | {series} | {seconds:.1f} | {series / seconds:.2f} "
            f"| {one_s / seconds:.2f} | {diff:.1e} |"
        )


if __name__ == "__main__":
    main()
