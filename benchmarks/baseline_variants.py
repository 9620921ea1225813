"""What the statsforecast baselines' history window and model space cost and score on M5.

Run on purpose (never in the test suite):

    nice .venv/bin/python benchmarks/baseline_variants.py [--n-jobs 1]

AutoETS and AutoTheta (weekly season), fitted on the 300 series of ``../shared/data/m5/`` (two
stores x 150 items, daily, from 2014-04-26) from the three backtest cutoffs the pipeline uses for
``as_of`` 2016-04-24 (2016-03-13, -20, -27) and from ``as_of`` itself, horizon 28, four ways:
every day before the cutoff or the last 365, and the full model search (``ZZZ``, and all four
theta forms) or one form each (``ANA``: additive error, no trend, additive season; standard
theta). Prints the fit time per series and origin (both models, ``--n-jobs`` processes) as a
ratio to the full search on all days, and per model the WAPE pooled over series, MASE (weekly
seasonal scale, mean over series) and a scaled quantile loss (pinball loss at 0.1, 0.5, 0.9 over
the scale, mean over series), on the backtests (mean of the three cutoffs) and on the M5
validation window (from ``as_of``). Decide on the backtests; the validation columns check it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "m5"
HORIZON = 28
AS_OF = pd.Timestamp("2016-04-24")
CUTOFFS = [pd.Timestamp(d) for d in ("2016-03-13", "2016-03-20", "2016-03-27")] + [AS_OF]
# name -> (days read before the cutoff, 0: all; AutoETS model; AutoTheta model, None: search all)
VARIANTS = {
    "all days, full search": (0, "ZZZ", None),
    "365 days, full search": (365, "ZZZ", None),
    "all days, ANA + standard theta": (0, "ANA", "STM"),
    "365 days, ANA + standard theta": (365, "ANA", "STM"),
}


def load(data: Path) -> pd.DataFrame:
    sales = pd.read_parquet(data / "m5_2clients_150items_to_2016-05-22.parquet")
    frame = pd.DataFrame(
        {
            "unique_id": sales["client_id"] + "/" + sales["item_id"],
            "ds": pd.to_datetime(sales["date"]),
            "y": sales["units_sold"].astype(float),
        }
    )
    return frame.sort_values(["unique_id", "ds"], ignore_index=True)


def scores(forecast: pd.DataFrame, alias: str, actual: pd.DataFrame, scale: pd.Series) -> np.ndarray:
    """WAPE, MASE, scaled quantile loss and 10-90% coverage of one model from one cutoff."""
    from forecast_assets.core.evaluation.metrics import pinball_loss

    joined = forecast.merge(actual, on=["unique_id", "ds"])
    y, ids = joined["y"].to_numpy(), joined["unique_id"]
    error = pd.Series(np.abs(joined[alias].to_numpy() - y))
    lo, hi = joined[f"{alias}-lo-80"].to_numpy(), joined[f"{alias}-hi-80"].to_numpy()
    loss = sum(pinball_loss(y, f, q) for q, f in ((0.1, lo), (0.5, joined[alias].to_numpy()), (0.9, hi))) / 3

    def per_item(values: np.ndarray) -> pd.Series:
        return pd.Series(values).groupby(ids.to_numpy()).mean() / scale

    return np.array(
        [
            error.sum() / np.abs(y).sum(),
            per_item(error.to_numpy()).mean(),
            per_item(loss).mean(),
            float(np.mean((y >= lo) & (y <= hi))),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the M5 folder (default ../shared/data/m5)")
    parser.add_argument("--n-jobs", type=int, default=1, help="statsforecast processes (default 1)")
    args = parser.parse_args()
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, AutoTheta

    from forecast_assets.core.evaluation.metrics import seasonal_scale

    df = load(args.data)
    n_series = df["unique_id"].nunique()
    base_ms = None
    print(f"{n_series} series, {len(CUTOFFS)} origins, n_jobs={args.n_jobs}\n")
    print("| variant | model | ms per series and origin (both models) | cost vs all days, full search "
          "| backtest WAPE | MASE | SQL | validation WAPE | MASE | SQL | coverage |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, (days, ets, theta) in VARIANTS.items():
        seconds, results = 0.0, {"AutoETS": [], "AutoTheta": []}
        for cutoff in CUTOFFS:
            history = df[df["ds"] <= cutoff]
            if days:
                history = history[history["ds"] > cutoff - pd.Timedelta(days=days)]
            actual = df[(df["ds"] > cutoff) & (df["ds"] <= cutoff + pd.Timedelta(days=HORIZON))]
            scale = df[df["ds"] <= cutoff].groupby("unique_id")["y"].apply(seasonal_scale)
            models = [AutoETS(season_length=7, model=ets), AutoTheta(season_length=7, model=theta)]
            started = time.perf_counter()
            forecast = StatsForecast(models=models, freq="D", n_jobs=args.n_jobs).forecast(
                df=history, h=HORIZON, level=[80]
            )
            seconds += time.perf_counter() - started
            forecast = forecast.reset_index() if "unique_id" not in forecast.columns else forecast
            for alias, rows in results.items():
                rows.append(scores(forecast, alias, actual, scale))
        ms = 1000 * seconds / (n_series * len(CUTOFFS))
        base_ms = base_ms or ms
        for alias, rows in results.items():
            backtest, valid = np.mean(rows[:-1], axis=0), rows[-1]
            print(
                f"| {name} | {alias} | {ms:.1f} | {ms / base_ms:.2f} | {backtest[0]:.4f} | {backtest[1]:.4f} "
                f"| {backtest[2]:.4f} | {valid[0]:.4f} | {valid[1]:.4f} | {valid[2]:.4f} | {valid[3]:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
