"""Training and prediction cost of the global LightGBM models and the ensemble step, beside the
statsforecast baselines, on one M5 store (150 items), one origin (as_of 2016-04-24, horizon 28).

Run on purpose (never in the test suite):

    nice .venv/bin/python benchmarks/model_cost.py [--items 150] [--rounds 300]

Prints series per second (items forecast / wall seconds) for each step on this machine. The
covariates are the M5 ones the pipeline passes (SNAP and event flags, weekend, shelf price as the
planned price, no promotions); category is the M5 department. Every step runs single-threaded
(``n_jobs=1``), so the figures are per core.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "m5"
AS_OF = pd.Timestamp("2016-04-24")
HORIZON = 28


def frames(items: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.Series]:
    """Demand, calendar, events and categories of the first M5 client, its top ``items``."""
    sales = pd.read_parquet(DATA / "m5_2clients_150items_to_2016-05-22.parquet")
    client = sorted(sales["client_id"].unique())[0]
    sales = sales[sales["client_id"] == client]
    top = sales.groupby("item_id")["units_sold"].sum().nlargest(items).index
    sales = sales[sales["item_id"].isin(top)].assign(date=lambda f: pd.to_datetime(f["date"]))
    sales["price"] = sales.groupby("item_id")["sell_price"].transform(lambda p: p.ffill().bfill())
    demand = sales.loc[sales["date"] <= AS_OF, ["item_id", "date", "units_sold", "price"]].assign(
        is_stockout=0
    )
    calendar = sales[["item_id", "date", "price"]].rename(columns={"price": "planned_price"})
    calendar = calendar[calendar["date"] <= AS_OF + pd.Timedelta(days=HORIZON)].assign(
        promo_flag=0.0, promo_discount=0.0, is_holiday=0.0, days_to_holiday=366.0,
        is_weekend=lambda f: (f["date"].dt.dayofweek >= 5).astype(float),
        is_future=lambda f: (f["date"] > AS_OF).astype(int),
    )  # fmt: skip
    cal = pd.read_csv(DATA / "calendar.csv", parse_dates=["date"])
    state = sales["state_id"].iloc[0]
    events = pd.DataFrame({"date": cal["date"], "event_snap": cal[f"snap_{state}"].astype(float)})
    categories = sales.drop_duplicates("item_id").set_index("item_id")["dept_id"]
    return demand.reset_index(drop=True), calendar.reset_index(drop=True), events, categories


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    from forecast_assets.core.forecasting.baselines import forecast_baselines
    from forecast_assets.core.forecasting.ensemble import ensembles
    from forecast_assets.core.forecasting.frame import DEFAULT_QUANTILES
    from forecast_assets.core.forecasting.global_model import (
        MODELS,
        ClientFrames,
        GlobalModelConfig,
        forecast_global_from_origins,
    )

    demand, calendar, events, categories = frames(args.items)
    n = demand["item_id"].nunique()
    origins = [("forecast", AS_OF)]
    started = time.perf_counter()
    base = forecast_baselines(demand, AS_OF, HORIZON, DEFAULT_QUANTILES, n_jobs=1).forecasts
    base_s = time.perf_counter() - started
    config = GlobalModelConfig(rounds=args.rounds, n_jobs=1)
    started = time.perf_counter()
    result = forecast_global_from_origins(
        ClientFrames.of(demand, calendar), origins, AS_OF, HORIZON, DEFAULT_QUANTILES, config,
        client_id="m5", events=events, categories=categories,
    )  # fmt: skip
    global_s = time.perf_counter() - started
    rows = pd.concat(
        [base.assign(as_of=AS_OF, kind="forecast", cutoff=AS_OF), result.rows.drop(columns=["model_id"])],
        ignore_index=True,
    )
    for column in ("date", "as_of", "cutoff"):
        rows[column] = pd.to_datetime(rows[column])
    started = time.perf_counter()
    members = ["auto_ets", "auto_theta", *MODELS]
    combined = ensembles(rows, members, DEFAULT_QUANTILES)
    ensemble_s = time.perf_counter() - started
    # Per member: the forecast's fit and the conformal calibration's, whose model forecasts each
    # holdout window without a refit (mlforecast's cross_validation(refit=False)).
    fits, fit_s = 2 * len(MODELS), result.fit_seconds + result.calibration_seconds
    steps = [
        ("statsforecast baselines (all models, n_jobs=1)", base_s),
        (
            f"global LightGBMs ({'+'.join(MODELS)}): {fits} fits and "
            f"{config.conformal_windows} conformal window forecasts each",
            fit_s,
        ),
        ("global LightGBMs: recursive prediction", result.predict_seconds),
        ("global LightGBMs: whole step (frames, fit, predict)", global_s),
        (f"ensembles (median + mean of {len(members)} members)", ensemble_s),
    ]
    print(f"({len(combined)} ensemble rows)\n\n| step | series | seconds | series/s |\n|---|---|---|---|")
    for label, seconds in steps:
        print(f"| {label} | {n} | {seconds:.2f} | {n / seconds:.1f} |")


if __name__ == "__main__":
    main()
