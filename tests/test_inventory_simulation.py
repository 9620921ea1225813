"""The core (R, S) policy meets its cycle service level when simulated against known demand.

A small version of ``benchmarks/inventory_simulation.py`` without the forecasting: the forecast
is the true distribution (its mean and standard deviation), so any shortfall is the policy's.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from forecast_assets.core.inventory.policy import inventory_recommendations
from forecast_assets.core.inventory.simulation import PeriodicReviewSimulation

LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
QCOLS = [f"q{round(p * 100)}" for p in LEVELS]
REVIEW = 7


def _true_forecast(rates: np.ndarray, start: pd.Timestamp, horizon: int = 35) -> pd.DataFrame:
    """The true Poisson distribution as a forecast: the median as ``point`` (what Chronos writes),
    the true mean as ``mean``, the true deciles."""
    lam = np.repeat(rates, horizon)
    forecast = pd.DataFrame(
        {
            "item_id": np.repeat([f"i{i}" for i in range(len(rates))], horizon),
            "date": np.tile(pd.date_range(start, periods=horizon), len(rates)),
            "point": stats.poisson.median(lam),
            "mean": lam,
        }
    )
    quantiles = stats.poisson.ppf(np.array(LEVELS)[None, :], lam[:, None])
    return forecast.join(pd.DataFrame(quantiles, columns=QCOLS))


def _simulate(rates: np.ndarray, leads: np.ndarray, weeks: int, service_level: float, seed: int):
    """Run the core policy every review against Poisson demand; lead times spread +-1 day."""
    rng = np.random.default_rng(seed)
    n = len(rates)
    lead_draws = leads[:, None] + rng.integers(-1, 2, size=(n, weeks + 1))
    days = weeks * REVIEW + REVIEW + int(lead_draws.max())
    demand = rng.poisson(rates[:, None], size=(n, days))
    items = [f"i{i}" for i in range(n)]
    products = pd.DataFrame(
        {"item_id": items, "lead_time_days": leads.astype(float), "lead_time_std_days": np.sqrt(2 / 3)}
    )
    champions = pd.DataFrame({"item_id": items, "champion_model": "chronos-2"})
    sigma = pd.Series(np.sqrt(rates), index=items)  # the true daily standard deviation
    start = pd.Timestamp("2026-01-05")
    truth = _true_forecast(rates, start)

    def decide(position: np.ndarray, day: int) -> pd.DataFrame:
        stock = pd.DataFrame({"item_id": items, "date": start, "on_hand": position, "on_order": 0.0})
        forecast = truth.assign(date=truth["date"] + pd.Timedelta(days=day))
        recs = inventory_recommendations(
            forecast, sigma, champions, products, stock, service_level, REVIEW, "sigma", LEVELS
        )
        return recs.set_index("item_id").loc[items]

    first = decide(np.zeros(n), 0)
    sim = PeriodicReviewSimulation(demand, lead_draws, REVIEW, np.ceil(first["order_up_to_level"].to_numpy()))
    for week in range(weeks):
        recs = decide(sim.position, week * REVIEW)
        sim.review_and_advance(recs["suggested_order_qty"].to_numpy())
    return sim.result()


def test_core_policy_meets_the_cycle_service_level_with_the_true_distribution():
    # 48 Poisson items from 1 to 20 a day, lead times 3, 7 and 14 days (+-1), 52 weekly reviews:
    # 2,496 cycles. Whole-unit orders round S up, so it lands a little above 0.95.
    rates = np.tile([1.0, 1.5, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 18, 20], 3)
    leads = np.tile([3, 7, 14], 16)
    result = _simulate(rates, leads, weeks=52, service_level=0.95, seed=11)
    assert result.cycle_service_level() == pytest.approx(0.95, abs=0.02)
    assert result.fill_rate() > 0.99  # a 95% cycle service level serves nearly all demand
    assert (result.cycles == 52).all() and (result.average_on_hand > 0).all()


def test_slow_mover_with_a_median_of_zero_gets_stock():
    # Poisson(0.5): the median forecast is 0 every day, the mean 0.5. The policy must stock it.
    rates = np.array([0.5])
    stock = pd.DataFrame({"item_id": ["i0"], "date": [pd.Timestamp("2026-01-04")], "on_hand": [0.0]})
    products = pd.DataFrame({"item_id": ["i0"], "lead_time_days": [7.0], "lead_time_std_days": [0.0]})
    forecast = _true_forecast(rates, pd.Timestamp("2026-01-05")).drop(columns="mean")
    assert (forecast["point"] == 0).all()
    recs = inventory_recommendations(
        forecast,
        pd.Series({"i0": np.sqrt(0.5)}),
        pd.DataFrame({"item_id": ["i0"], "champion_model": ["chronos-2"]}),
        products,
        stock,
        0.95,
        REVIEW,
        "sigma",
        LEVELS,
    ).iloc[0]
    # Mean from the deciles 0.431 a day (the grid cannot say more) over L + R = 14 days = 6.04,
    # spread sqrt(14 * 0.5) = 2.65: S = the 95% quantile of the gamma with that mean and spread
    # (shape 5.2) = 10.94, not the median's 0 + safety stock (and above the normal's 10.39).
    assert recs["exposure_demand"] == pytest.approx(14 * 0.431, abs=0.02)
    shape, scale = (14 * 0.43118) ** 2 / 7, 7 / (14 * 0.43118)
    assert recs["order_up_to_level"] == pytest.approx(stats.gamma.ppf(0.95, shape, scale=scale), abs=0.01)
    assert recs["order_up_to_level"] == pytest.approx(10.94, abs=0.01)
    assert recs["suggested_order_qty"] == 11  # from nothing on hand, rounded up to whole units
