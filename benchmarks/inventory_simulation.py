"""Does the inventory policy deliver the service level it promises? A simulation with known demand.

Run on purpose (never in the test suite):

    nice .venv/bin/python benchmarks/inventory_simulation.py                  # defaults below
    nice .venv/bin/python benchmarks/inventory_simulation.py --items-per-class 8 --weeks 26
    nice .venv/bin/python benchmarks/inventory_simulation.py --chronos --items-per-class 2 --weeks 8

Items of each Syntetos-Boylan class are drawn from known daily demand distributions:

- smooth: Poisson, mean 2..15 a day;
- erratic: negative binomial, mean 5..15, dispersion r 1..2;
- intermittent: zero-inflated Poisson, demand on 20..50% of days, Poisson(1.5..4) when it occurs;
- lumpy: zero-inflated negative binomial, demand on 20..50% of days, NB(mean 3..10, r 0.8..1.5).

Lead times are 3, 7 and 14 days (cycled over items), each order's drawn uniformly within +-1,
+-1 and +-3 days (the products table gets that spread's exact standard deviation); review period
7 days. After two years of history, the weekly (R, S) policy runs for ``--weeks`` reviews against
the true demand (:class:`forecast_assets.core.inventory.simulation.PeriodicReviewSimulation`,
backorders), with the real core code at every review:

- forecasts: :func:`forecast_assets.core.forecasting.baselines.forecast_baselines` refitted every
  ``--refit-weeks`` on the last ``--fit-days`` days, and per item the model the class suggests,
  not a backtest contest: Croston SBA where the baselines classify the history intermittent or
  lumpy, else AutoETS (both write their mean as ``point``);
- spread: :func:`forecast_assets.core.inventory.demand.forecast_error_sigma` (sigma_d) and
  :func:`forecast_assets.core.inventory.demand.forecast_error_correlation` (k, pooled by the
  demand class :func:`forecast_assets.core.classification.demand_profile` gives the history)
  over the two latest 28-day windows of those forecasts against what then sold (two backtest
  origins before the first review start it), as the ``inventory_metrics`` asset does with the
  champion's backtest rows;
- decision: :func:`forecast_assets.core.inventory.policy.inventory_recommendations`, method
  ``sigma``, ordering its ``suggested_order_qty``.

``--chronos`` forecasts with a random-weight Chronos-2 instead of the baselines
(:func:`forecast_assets.demo.tiny_chronos.save_tiny_chronos2`, loaded and run by
:mod:`forecast_assets.core.forecasting.chronos_model`): it shows that the Chronos path (point =
median, quantiles only, expected demand estimated from the quantiles) runs through the policy
without error. Its service levels are meaningless: the weights are random.

The same reviews are also run with the true daily mean and standard deviation as the forecast
(``truth``), which separates what the policy loses from what the forecasts lose.

Achieved cycle service level, the textbook's for (R, S) with backorders: the share of review
cycles with no demand waiting just before the next order arrives (the demand of the L + R days
did not exceed S). Fill rate: demand served from stock the day it occurred / all demand.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast_assets.core.classification import demand_profile
from forecast_assets.core.forecasting.baselines import forecast_baselines
from forecast_assets.core.forecasting.frame import DEFAULT_QUANTILES
from forecast_assets.core.inventory.demand import forecast_error_correlation, forecast_error_sigma
from forecast_assets.core.inventory.policy import inventory_recommendations
from forecast_assets.core.inventory.simulation import PeriodicReviewSimulation, SimulationResult

CLASSES = ("smooth", "erratic", "intermittent", "lumpy")
LEAD_TIMES = {3: 1, 7: 1, 14: 3}  # lead time -> half-width of its uniform spread, days
REVIEW = 7
HISTORY_DAYS = 730
BACKTEST_DAYS = 28
START = pd.Timestamp("2024-01-01")


@dataclass
class Items:
    """The simulated client: one row per item with its true distribution."""

    frame: pd.DataFrame  # item_id, demand_class, mean, sd, lead_time_days, lead_time_std_days
    demand: np.ndarray  # (items, days) true daily demand, history first
    lead_draws: np.ndarray  # (items, weeks + 1) each review's lead time


def _draw(cls: str, rng: np.random.Generator, days: int) -> tuple[np.ndarray, float, float]:
    """Daily demand of one item of ``cls`` and its true daily mean and standard deviation."""
    if cls == "smooth":
        lam = rng.uniform(2, 15)
        return rng.poisson(lam, days), lam, np.sqrt(lam)
    if cls == "erratic":
        mu, r = rng.uniform(5, 15), rng.uniform(1, 2)
        return rng.negative_binomial(r, r / (r + mu), days), mu, np.sqrt(mu + mu**2 / r)
    pi = rng.uniform(0.2, 0.5)
    occurs = rng.random(days) < pi
    if cls == "intermittent":
        lam = rng.uniform(1.5, 4)
        var = pi * lam + pi * (1 - pi) * lam**2
        return occurs * rng.poisson(lam, days), pi * lam, np.sqrt(var)
    mu, r = rng.uniform(3, 10), rng.uniform(0.8, 1.5)
    var = pi * (mu + mu**2 / r) + pi * (1 - pi) * mu**2
    return occurs * rng.negative_binomial(r, r / (r + mu), days), pi * mu, np.sqrt(var)


def make_items(per_class: int, weeks: int, seed: int) -> Items:
    rng = np.random.default_rng(seed)
    days = HISTORY_DAYS + weeks * REVIEW + REVIEW + max(k + h for k, h in LEAD_TIMES.items()) + 1
    rows, demand, leads = [], [], []
    lead_cycle = list(LEAD_TIMES)
    for cls in CLASSES:
        for i in range(per_class):
            series, mean, sd = _draw(cls, rng, days)
            lead = lead_cycle[i % len(lead_cycle)]
            half = LEAD_TIMES[lead]
            rows.append(
                {
                    "item_id": f"{cls}_{i:03d}",
                    "demand_class": cls,
                    "mean": mean,
                    "sd": sd,
                    "lead_time_days": float(lead),
                    "lead_time_std_days": np.sqrt(((2 * half + 1) ** 2 - 1) / 12),
                }
            )
            demand.append(series)
            leads.append(lead + rng.integers(-half, half + 1, size=weeks + 1))
    return Items(pd.DataFrame(rows), np.array(demand, dtype=float), np.array(leads))


def demand_frame(items: Items, end: int, start: int = 0) -> pd.DataFrame:
    """History days [start, end) in the long format the forecasting code reads."""
    ids = items.frame["item_id"].to_numpy()
    dates = pd.date_range(START + pd.Timedelta(days=start), periods=end - start)
    return pd.DataFrame(
        {
            "item_id": np.repeat(ids, end - start),
            "date": np.tile(dates, len(ids)),
            "units_sold": items.demand[:, start:end].ravel(),
        }
    )


def champion_forecast(
    items: Items, day: int, horizon: int, fit_days: int, chronos: object | None = None
) -> pd.DataFrame:
    """Baselines fitted on the ``fit_days`` before ``day``; per item Croston SBA where the history
    classifies intermittent or lumpy (the baselines only fit it there), else AutoETS. With a
    ``chronos`` pipeline, its forecast instead. Rows carry their ``cutoff``, as backtest rows do."""
    history = demand_frame(items, day, max(0, day - fit_days))
    cutoff = START + pd.Timedelta(days=day - 1)
    if chronos is not None:
        return chronos_forecast(chronos, history, cutoff, horizon).assign(cutoff=cutoff)
    fc = forecast_baselines(history, cutoff, horizon, DEFAULT_QUANTILES).forecasts
    croston = set(fc.loc[fc["model"] == "croston_sba", "item_id"])
    pick = np.where(fc["item_id"].isin(croston), "croston_sba", "auto_ets")
    return fc[fc["model"] == pick].reset_index(drop=True).assign(cutoff=cutoff)


def chronos_forecast(
    pipeline: object, history: pd.DataFrame, cutoff: pd.Timestamp, horizon: int
) -> pd.DataFrame:
    """The Chronos path of the forecasting stage on a flat calendar (no promotions or holidays)."""
    from forecast_assets.core.forecasting.chronos_frames import build_frames
    from forecast_assets.core.forecasting.chronos_model import predict

    demand = history.assign(price=1.0, is_stockout=0)
    dates = pd.date_range(history["date"].min(), cutoff + pd.Timedelta(days=horizon))
    ids = history["item_id"].unique()
    calendar = pd.DataFrame(
        {
            "item_id": np.repeat(ids, len(dates)),
            "date": np.tile(dates, len(ids)),
            "promo_flag": 0,
            "promo_discount": 0.0,
            "is_holiday": 0,
            "days_to_holiday": 365,
            "is_weekend": np.tile((dates.dayofweek >= 5).astype(int), len(ids)),
            "planned_price": 1.0,
        }
    )
    frames = build_frames(demand, calendar, cutoff, horizon, client_id="simulation")
    return predict(pipeline, frames, cutoff, horizon, DEFAULT_QUANTILES)


def load_random_chronos() -> object:
    """A random-weight Chronos-2, small, saved to a temporary directory and loaded as the stage does."""
    import tempfile
    from pathlib import Path

    from forecast_assets.core.forecasting.chronos_model import load_pipeline
    from forecast_assets.demo.tiny_chronos import save_tiny_chronos2

    directory = save_tiny_chronos2(Path(tempfile.mkdtemp()) / "random-chronos-2")
    return load_pipeline(str(directory), "cpu", "float32")


def truth_forecast(items: Items, day: int, horizon: int) -> pd.DataFrame:
    dates = pd.date_range(START + pd.Timedelta(days=day), periods=horizon)
    f = items.frame
    return pd.DataFrame(
        {
            "item_id": np.repeat(f["item_id"], horizon),
            "date": np.tile(dates, len(f)),
            "model": "truth",
            "point": np.repeat(f["mean"], horizon),
            "mean": np.repeat(f["mean"], horizon),
        }
    )


def backtest_spread(
    windows: list[pd.DataFrame], items: Items, day: int, fit_days: int
) -> tuple[pd.Series, pd.Series]:
    """sigma_d and k of the last two realised 28-day forecast windows before ``day``, by the core
    functions; k pooled by the demand class of the history (as the asset pools it)."""
    first_days = [w[w["step"] <= BACKTEST_DAYS] for w in windows]
    realised = [w for w in first_days if (w["date"].max() - START).days < day][-2:]
    rows = pd.concat(realised, ignore_index=True)
    idx = items.frame.reset_index().set_index("item_id")["index"]
    offset = (rows["date"] - START).dt.days.to_numpy()
    rows["units_sold"] = items.demand[idx.loc[rows["item_id"]].to_numpy(), offset]
    history = demand_frame(items, day, max(0, day - fit_days)).assign(price=1.0, is_stockout=0)
    as_of = START + pd.Timedelta(days=day - 1)
    profile = demand_profile(history, items.frame["item_id"].tolist(), as_of)
    classes = profile.set_index("item_id")["demand_class"]
    return forecast_error_sigma(rows), forecast_error_correlation(rows, classes.to_dict())


def run(
    per_class: int,
    weeks: int,
    seed: int,
    refit_weeks: int,
    fit_days: int,
    levels: list[float],
    chronos: bool = False,
) -> None:
    t0 = time.time()
    pipeline = load_random_chronos() if chronos else None
    items = make_items(per_class, weeks, seed)
    f = items.frame
    ids = f["item_id"].tolist()
    products = f[["item_id", "lead_time_days", "lead_time_std_days"]].assign(moq=None, pack_size=1.0)
    horizon = refit_weeks * REVIEW + max(k + h for k, h in LEAD_TIMES.items()) + REVIEW
    true_sigma = pd.Series(f["sd"].to_numpy(), index=ids)
    first = HISTORY_DAYS  # day of the first review
    windows = [
        champion_forecast(items, first - k * BACKTEST_DAYS, BACKTEST_DAYS, fit_days, pipeline) for k in (2, 1)
    ]
    demand = items.demand[:, first:]
    sims: dict[tuple[str, float], PeriodicReviewSimulation] = {}
    expected_fill: dict[tuple[str, float], list[float]] = {}
    forecast = sigma = correlation = None
    correlations = []
    fit_seconds = 0.0
    for week in range(weeks):
        day = first + week * REVIEW
        if week % refit_weeks == 0:
            t = time.time()
            forecast = champion_forecast(items, day, horizon, fit_days, pipeline)
            fit_seconds += time.time() - t
            windows.append(forecast)
            sigma, correlation = backtest_spread(windows, items, day, fit_days)
            correlations.append(correlation.groupby(f.set_index("item_id")["demand_class"]).mean())
        date = START + pd.Timedelta(days=day)
        models = forecast.groupby("item_id")["model"].first()
        no_correlation = pd.Series(0.0, index=ids)
        name = "chronos (random weights)" if chronos else "forecast"
        sources = {
            name: (forecast[forecast["date"] >= date], sigma, correlation, models),
            "truth": (
                truth_forecast(items, day, horizon),
                true_sigma,
                no_correlation,
                pd.Series("truth", index=ids),
            ),
        }
        for source, (fc, sig, corr, models) in sources.items():
            champions = pd.DataFrame({"item_id": models.index, "champion_model": models.to_numpy()})
            for level in levels:
                key = (source, level)
                position = sims[key].position if key in sims else np.zeros(len(ids))
                stock = pd.DataFrame({"item_id": ids, "date": date, "on_hand": position, "on_order": 0.0})
                recs = (
                    inventory_recommendations(
                        fc,
                        sig,
                        champions,
                        products,
                        stock,
                        level,
                        REVIEW,
                        "sigma",
                        DEFAULT_QUANTILES,
                        error_correlation=corr,
                    )
                    .set_index("item_id")
                    .loc[ids]
                )
                if key not in sims:  # start at S with nothing on order, as in steady state
                    start_net = np.ceil(recs["order_up_to_level"].to_numpy())
                    sims[key] = PeriodicReviewSimulation(demand, items.lead_draws, REVIEW, start_net)
                    recs["suggested_order_qty"] = 0.0
                expected_fill.setdefault(key, []).append(float(recs["fill_rate"].mean()))
                sims[key].review_and_advance(recs["suggested_order_qty"].fillna(0).to_numpy())
    report(items, {k: s.result() for k, s in sims.items()}, levels)
    k = pd.concat(correlations, axis=1)
    print("\nerror correlation k by true class (mean over items, per refit: min..max):")
    for cls in CLASSES:
        print(f"  {cls}: {k.loc[cls].min():.3f}..{k.loc[cls].max():.3f}")
    print(
        f"\n{len(ids)} items, {weeks} weekly reviews, refit every {refit_weeks} weeks on {fit_days} days, "
        f"seed {seed}: {time.time() - t0:.0f} s ({fit_seconds:.0f} s forecasting)"
    )


def report(items: Items, results: dict[tuple[str, float], SimulationResult], levels: list[float]) -> None:
    cls = items.frame["demand_class"].to_numpy()
    mean = items.frame["mean"].to_numpy()
    print("| forecast | class | target CSL | achieved CSL | fill rate | avg on hand (days of demand) |")
    print("|---|---|---|---|---|---|")
    for (source, level), res in sorted(results.items()):
        for name in (*CLASSES, "all"):
            m = np.ones(len(cls), bool) if name == "all" else cls == name
            days_cover = float(np.mean(res.average_on_hand[m] / mean[m]))
            print(
                f"| {source} | {name} | {level:.2f} | {res.cycle_service_level(m):.3f} | "
                f"{res.fill_rate(m):.3f} | {res.average_on_hand[m].mean():.1f} ({days_cover:.1f}) |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items-per-class", type=int, default=24)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--refit-weeks", type=int, default=4)
    parser.add_argument("--fit-days", type=int, default=182, help="history each refit reads")
    parser.add_argument("--service-levels", default="0.90,0.95,0.98")
    parser.add_argument(
        "--chronos",
        action="store_true",
        help="forecast with a random-weight Chronos-2: shows the path runs; its figures mean nothing",
    )
    args = parser.parse_args()
    levels = [float(x) for x in args.service_levels.split(",")]
    run(args.items_per_class, args.weeks, args.seed, args.refit_weeks, args.fit_days, levels, args.chronos)


if __name__ == "__main__":
    main()
