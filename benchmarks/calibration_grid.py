"""The global model trained and calibrated on a weekly grid against both at every origin, on M5.

Run on purpose (never in the test suite):

    nice .venv/bin/python benchmarks/calibration_grid.py [--items 150] [--days 7] [--training grid]

For the first M5 client's top ``--items`` items and each of ``--days`` consecutive daily origins
ending at ``--last`` (default 2016-04-24, a grid day), it fits the global model
(``forecast_global_from_origins``, one origin, horizon 28) twice: trained and calibrated at the
origin itself (``calibration_days=1``) and on the weekly grid (``calibration_days=7``: the errors measured on
the data up to the last grid day before the origin, read back from the day before's run where it
stored them, as the asset does). With ``--training origin`` (the default, as the asset's) the
members are trained at the origin either way, so the points are the same and the quantiles differ
by the days between the grid day and the origin (one to seven); with ``--training grid`` the
members are trained on the grid day's data too and read back with the errors (the features are
built from the data up to the origin either way), so the points differ as well.
It prints, per origin and over all of them, the weighted quantile loss (fev's WQL), the scaled
quantile loss and the 80% interval's coverage of both, scored against M5's actuals, and the
step's seconds each way. The grid's run reads back whatever an earlier origin's run of the same
week stored (origins run oldest first), so its seconds are a daily refresh's.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
DATA = REPO.parent / "shared" / "data" / "m5"
LAST = pd.Timestamp("2016-04-24")
HORIZON = 28


def actuals(items: int) -> pd.DataFrame:
    """item_id, date, actual of the client's top items over the whole M5 span (for scoring)."""
    from model_cost import frames

    sales = pd.read_parquet(DATA / "m5_2clients_150items_to_2016-05-22.parquet")
    sales = sales[sales["client_id"] == sorted(sales["client_id"].unique())[0]]
    keep = frames(items)[0]["item_id"].unique()
    sales = sales[sales["item_id"].isin(keep)].assign(date=lambda f: pd.to_datetime(f["date"]))
    return sales[["item_id", "date", "units_sold"]].rename(columns={"units_sold": "actual"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=150)
    parser.add_argument("--days", type=int, default=7, help="daily origins ending at --last")
    parser.add_argument("--last", type=pd.Timestamp, default=LAST, help="last origin (default 2016-04-24)")
    parser.add_argument("--training", choices=["origin", "grid"], default="origin",
                        help="where the grid's members train (GLOBAL_MODEL_TRAINING)")  # fmt: skip
    args = parser.parse_args()
    from model_cost import frames

    from forecast_assets.core.evaluation.metrics import score_forecasts, seasonal_scales
    from forecast_assets.core.forecasting.frame import DEFAULT_QUANTILES
    from forecast_assets.core.forecasting.global_model import (
        Calibration,
        ClientFrames,
        GlobalModelConfig,
        calibration_date,
        calibration_rows,
        forecast_global_from_origins,
        member_rows,
        stored_calibration,
    )

    sales, calendar, events, categories = frames(args.items)
    truth = actuals(args.items)
    stored: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}  # what ml.global_calibration/_members hold

    def lookup(fingerprint: str) -> Calibration | None:
        if fingerprint not in stored:
            return None
        return stored_calibration(*stored[fingerprint])

    def fit(cutoff: pd.Timestamp, every: int):
        demand = sales[sales["date"] <= cutoff]
        started = time.perf_counter()
        result = forecast_global_from_origins(
            ClientFrames.of(demand, calendar), [("forecast", cutoff)], cutoff, HORIZON, DEFAULT_QUANTILES,
            replace(GlobalModelConfig(), calibration_days=every, training=args.training), client_id="m5",
            events=events, categories=categories, calibration_lookup=lookup if every > 1 else None,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        if every > 1:
            stored.update({c.fingerprint: (calibration_rows(c), member_rows(c)) for c in result.calibrations})
        rows = result.rows.assign(date=lambda f: pd.to_datetime(f["date"]))
        scored = rows.merge(truth, on=["item_id", "date"])
        scales = seasonal_scales(demand, [cutoff]).set_index("item_id")["scale"]
        scored["scale"] = scored["item_id"].map(scales)
        return score_forecasts(scored, ["model"], DEFAULT_QUANTILES), seconds, result.calibrations_reused

    table, totals = [], []
    for cutoff in pd.date_range(end=args.last, periods=args.days, freq="D"):
        for every in (1, 7):
            scores, seconds, reused = fit(cutoff, every)
            totals.append(scores.assign(every=every))
            for _, row in scores.iterrows():
                table.append(
                    (cutoff.date(), calibration_date(cutoff, every).date(), every, row["model"], row["wql"],
                     row["sql"], row["coverage_80"], row["wape"], seconds, reused)
                )  # fmt: skip
    print(f"{args.items} M5 items, horizon {HORIZON}, training at the {args.training}\n")
    print(
        "| origin | calibrated on | every (days) | model | WQL | SQL | coverage 80 | WAPE | step s | reused |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for line in table:
        print("| {} | {} | {} | {} | {:.4f} | {:.4f} | {:.3f} | {:.4f} | {:.1f} | {} |".format(*line))
    every = pd.concat(totals).groupby(["every", "model"])[["wql", "sql", "coverage_80", "wape"]].mean()
    print("\nMean over the origins:\n")
    print(every.round(4).to_markdown())
    seconds = pd.DataFrame(table, columns=[*"abcdefghi", "reused"])
    per_way = seconds.drop_duplicates(["a", "c"]).groupby("c")["i"].sum()
    print(f"\nstep seconds summed over origins: every day {per_way[1]:.1f}, weekly grid {per_way[7]:.1f} "
          f"(ratio {per_way[7] / per_way[1]:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
