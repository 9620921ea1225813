import itertools
import math

import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy import stats
from scipy.stats import norm

from forecast_assets.core.classification import (
    abc_classes,
    adi_cv2,
    demand_class,
    demand_profile,
    weekly_cv,
    xyz_class,
)
from forecast_assets.core.inventory.demand import (
    demand_window_start,
    expected_daily_demand,
    forecast_error_correlation,
    forecast_error_sigma,
    mean_from_quantiles,
    normal_loss,
    quantile_levels_in,
)
from forecast_assets.core.inventory.policy import (
    OUTPUT_SCHEMA,
    demand_quantile,
    expected_fill_rate,
    expected_shortage,
    exposure_days,
    exposure_sigma,
    inventory_recommendations,
    order_quantity,
    policy_levels,
    quantile_sigma,
    round_order,
    safety_stock,
    service_z,
    stockout_probability,
    to_inventory_table,
    what_is_missing,
)

LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
QCOLS = [f"q{round(p * 100)}" for p in LEVELS]


@pytest.mark.parametrize("level", [0.95, 0.975, 0.9, 0.99])
def test_service_z_is_the_normal_quantile(level):
    assert service_z(level) == pytest.approx(norm.ppf(level), abs=1e-12)


def test_service_z_for_095_and_0975_matches_scipy_exactly():
    assert service_z(0.95) == norm.ppf(0.95)
    assert service_z(0.975) == norm.ppf(0.975)
    assert service_z(0.95) == pytest.approx(1.6449, abs=1e-4)
    assert service_z(0.975) == pytest.approx(1.9600, abs=1e-4)
    with pytest.raises(ValueError):
        service_z(1.0)


def test_safety_stock_textbook_examples():
    # Chopra & Meindl, Supply Chain Management (6th ed.), ch. 12, the Lego example: weekly demand
    # mean 2,500 and std 500, lead time 2 weeks, CSL 0.90. sigma_L = sqrt(2) * 500 = 707,
    # ss = NORMSINV(0.9) * 707 = 906 boxes, ROP = 2 * 2,500 + 906 = 5,906.
    ss = safety_stock(service_z(0.90), 500.0, 2.0)
    assert ss == pytest.approx(906.19, abs=0.01)
    assert round(2 * 2500 + ss) == 5906
    # Chopra & Meindl, same chapter, the Dell example with a variable lead time: daily demand mean
    # 2,500 and std 500, lead time mean 7 and std 7 days, CSL 0.90.
    # sigma_L = sqrt(7 * 500^2 + 2500^2 * 7^2) = sqrt(308,000,000) = 17,550; ss = 1.2816 * 17,550
    # = 22,491 computers.
    assert safety_stock(service_z(0.90), 500.0, 7.0, 2500.0, 7.0) == pytest.approx(22491.1, abs=0.1)
    # Hand computation, no lead-time variability: 1.6449 * 10 * sqrt(4) = 32.90.
    assert safety_stock(service_z(0.95), 10.0, 4.0) == pytest.approx(32.897, abs=1e-2)


def test_higher_service_level_never_lowers_safety_stock():
    levels = np.linspace(0.5, 0.999, 40)
    stocks = [safety_stock(service_z(s), 7.0, 5.0, 12.0, 1.0) for s in levels]
    assert all(b >= a for a, b in itertools.pairwise(stocks))


def test_round_order_respects_pack_size_and_moq():
    assert round_order(0, 12, 6) == 0
    assert round_order(7, None, 6) == 12
    assert round_order(3, 10, 1) == 10
    assert round_order(3, 10, 4) == 12  # MOQ 10 rounded up to whole packs of 4


def test_quantile_sigma_recovers_a_normal_and_ignores_the_clipped_lower_tail():
    exact = np.array([[10 + 2 * norm.ppf(p) for p in LEVELS]])
    assert quantile_sigma(exact, LEVELS) == pytest.approx([2.0])
    clipped = np.clip(np.array([[1 + 2 * norm.ppf(p) for p in LEVELS]]), 0, None)  # q10..q30 hit 0
    assert quantile_sigma(clipped, LEVELS) == pytest.approx([2.0])
    # Only q50 and q90: s = (q90 - q50) / z(0.9) = 2.5631 / 1.2816 = 2.
    assert quantile_sigma(np.array([[5.0, 5.0 + 2 * norm.ppf(0.9)]]), (0.5, 0.9)) == pytest.approx([2.0])
    assert np.isnan(quantile_sigma(np.array([[1.0, 2.0]]), (0.1, 0.5))).all()


@pytest.mark.parametrize(
    ("lead", "review", "days"), [(4, 7, 11), (0, 7, 7), (3.5, 7, 10.5), (14, 0, 14), (14, 7, 21)]
)
def test_exposure_is_lead_time_plus_review_period(lead, review, days):
    assert exposure_days(lead, review) == days


def test_exposure_rejects_negative_days():
    with pytest.raises(ValueError):
        exposure_days(-1, 7)


@pytest.mark.parametrize(
    ("days", "sigma_d", "mean_d", "sigma_lead", "expected"),
    [
        (11, 3.0, 10.0, 0.0, 3 * math.sqrt(11)),  # 9.950
        (11, 3.0, 10.0, 1.0, math.sqrt(199)),  # 11 * 9 + 10^2 * 1^2
        (21, math.sqrt(0.5), 0.5, 2.0, math.sqrt(11.5)),  # 21 * 0.5 + 0.25 * 4
        (0, 3.0, 10.0, 0.0, 0.0),
    ],
)
def test_exposure_sigma_table(days, sigma_d, mean_d, sigma_lead, expected):
    assert exposure_sigma(days, sigma_d, mean_d, sigma_lead) == pytest.approx(expected)
    assert safety_stock(1.5, sigma_d, days, mean_d, sigma_lead) == pytest.approx(1.5 * expected)


@pytest.mark.parametrize(
    ("days", "sigma_d", "mean_d", "sigma_lead", "k", "expected"),
    [
        (21, 2.0, 0.0, 0.0, 0.0, math.sqrt(84)),  # the sqrt rule: 4 * 21
        (21, 2.0, 0.0, 0.0, 0.1, math.sqrt(252)),  # 4 * (21 + 0.1 * 21 * 20) = 4 * 63
        (10, 1.0, 5.0, 1.0, 1.0, math.sqrt(125)),  # fully shared: (10 + 90) + 5^2 * 1^2
        (0.5, 2.0, 0.0, 0.0, 0.5, math.sqrt(2)),  # under a day nothing is shared: 4 * 0.5
    ],
)
def test_a_shared_level_error_grows_the_exposure_spread_like_n(
    days, sigma_d, mean_d, sigma_lead, k, expected
):
    assert exposure_sigma(days, sigma_d, mean_d, sigma_lead, k) == pytest.approx(expected)


def _windows(errors: dict[str, list[list[float]]], stockout: dict[str, int] | None = None) -> pd.DataFrame:
    """Backtest rows (forecast 10 a day) whose errors actual - forecast are ``errors[item][window]``."""
    rows = []
    for item, windows in errors.items():
        for w, errs in enumerate(windows):
            cutoff = pd.Timestamp("2026-01-01") + pd.Timedelta(days=28 * w)
            for step, e in enumerate(errs, start=1):
                rows.append(
                    {
                        "item_id": item,
                        "model": "auto_ets",
                        "cutoff": cutoff,
                        "step": step,
                        "point": 10.0,
                        "units_sold": 10.0 + e,
                        "is_stockout": 0,
                    }
                )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("errors", "groups", "expected"),
    [
        # A level error alone: window sums 2 and -2, mse 1: (4 - 2) * 2 / (2 * 1 * 2) = 1.
        ({"a": [[1, 1], [-1, -1]]}, None, {"a": 1.0}),
        # Errors that cancel in every window: (0 - 2) * 2 / 4 = -1, clipped to 0.
        ({"b": [[1, -1], [1, -1]]}, None, {"b": 0.0}),
        # Level +-2 and noise +-1: mse 5, sums 4 and -4: (16 / 5 - 2) * 2 / 4 = 0.6.
        ({"c": [[3, 1], [-1, -3]]}, None, {"c": 0.6}),
        # a and b pooled: (2 + 2 - 2 - 2) / 8 = 0 for both; in their own groups each keeps its own.
        ({"a": [[1, 1], [-1, -1]], "b": [[1, -1], [1, -1]]}, None, {"a": 0.0, "b": 0.0}),
        ({"a": [[1, 1], [-1, -1]], "b": [[1, -1], [1, -1]]}, {"a": "x", "b": "y"}, {"a": 1.0, "b": 0.0}),
    ],
)
def test_error_correlation_is_the_pooled_excess_of_the_cumulative_error(errors, groups, expected):
    assert forecast_error_correlation(_windows(errors), groups).to_dict() == pytest.approx(expected)


def test_error_correlation_skips_stockout_days_and_needs_windows():
    backtest = _windows({"a": [[1, 1, 50], [-1, -1]]})
    backtest.loc[2, "is_stockout"] = 1  # the 50 is a stock-out day: lost sales, not an error
    assert forecast_error_correlation(backtest).to_dict() == pytest.approx({"a": 1.0})
    # Without cutoffs the windows are unknown: k = 0, the sqrt rule.
    assert forecast_error_correlation(backtest.drop(columns="cutoff")).to_dict() == {"a": 0.0}


@pytest.mark.parametrize(
    ("mu", "spread", "level", "s_level"),
    [
        # Gamma of shape (mu / spread)^2 = 1 is the exponential: S = mu ln(1 / 0.05) = 29.957.
        (10.0, 10.0, 0.95, 10.0 * math.log(20)),
        (10.0, 10.0, 0.90, 10.0 * math.log(10)),
        # Shape 10,000: nearly normal, S = mu + spread (z + (z^2 - 1) skew / 6) with skew 0.02
        # (Cornish-Fisher) = 1000 + 10 (1.6449 + 0.0057) = 1016.51, the normal's 1016.45 plus a bit.
        (1000.0, 10.0, 0.95, 1016.505),
        (5.0, 0.0, 0.95, 5.0),  # no spread: the mean
        # Spread 30x the mean: the gamma's 95% quantile is ~0, below the mean; S is floored at the
        # mean (safety stock 0), or the fill rate would be about zero.
        (4.4, 133.0, 0.95, 4.4),
        (0.0, 2.0, 0.95, 2.0 * 1.644854),  # no expected demand: the normal N(0, 2^2)
    ],
)
def test_policy_levels_table(mu, spread, level, s_level):
    levels = policy_levels(mu, spread, level)
    assert levels.order_up_to_level == pytest.approx(s_level, abs=1e-3) == levels.reorder_point
    assert levels.safety_stock == pytest.approx(s_level - mu, abs=1e-3)


def test_gamma_quantile_of_shape_two_solves_its_survival_function():
    # Shape 2, scale 5 (mean 10, spread sqrt(50)): sf(x) = exp(-x / 5) (1 + x / 5).
    s_level = demand_quantile(0.95, 10.0, math.sqrt(50))
    assert math.exp(-s_level / 5) * (1 + s_level / 5) == pytest.approx(0.05)
    # Skewed demand needs more stock than the normal with the same mean and spread says.
    assert s_level > 10.0 + 1.6449 * math.sqrt(50)


@pytest.mark.parametrize(
    ("s_level", "position", "moq", "pack", "qty"),
    [
        (126.37, 30.0, 1.0, 5.0, 100.0),  # 96.37 -> 20 packs of 5
        (50.0, 50.0, None, None, 0.0),  # at S: nothing
        (50.0, 60.0, 10.0, 4.0, 0.0),  # above S: nothing, whatever the MOQ
        (50.2, 50.0, None, None, 1.0),  # a fraction short: one whole unit
        (53.0, 50.0, 10.0, 4.0, 12.0),  # 3 short, MOQ 10 in packs of 4
        (50.0, -5.0, None, None, 55.0),  # backorders count in the position
    ],
)
def test_order_quantity_table(s_level, position, moq, pack, qty):
    assert order_quantity(s_level, position, moq, pack) == qty


@pytest.mark.parametrize(
    ("position", "mu", "spread", "p"),
    [
        (20.0, 10.0, 10.0, math.exp(-2)),  # exponential: sf(x) = exp(-x / 10)
        (10.0 * math.log(20), 10.0, 10.0, 0.05),  # at S: 1 - the service level
        (10.0, 10.0, math.sqrt(50), 3 * math.exp(-2)),  # shape 2, scale 5: exp(-2) (1 + 2)
        (30.0, 40.0, 0.0, 1.0),
        (40.0, 40.0, 0.0, 0.0),
        (1.0, 0.0, 2.0, 0.308538),  # no expected demand: normal, 1 - Phi(0.5)
    ],
)
def test_stockout_probability_table(position, mu, spread, p):
    assert stockout_probability(position, mu, spread) == pytest.approx(p, abs=1e-5)


@pytest.mark.parametrize(
    ("level", "mu", "spread", "shortage"),
    [
        (10.0 * math.log(20), 10.0, 10.0, 0.5),  # exponential: mu exp(-S / mu) = 10 * 0.05
        (0.0, 10.0, 10.0, 10.0),  # nothing in stock: all demand waits
        # Shape 2, scale 5 at 10: mean sf_3(10) - 10 sf_2(10) = 10 * 5 e^-2 - 10 * 3 e^-2 = 20 e^-2.
        (10.0, 10.0, math.sqrt(50), 20 * math.exp(-2)),
        (5.0, 8.0, 0.0, 3.0),  # no spread: mean - level
        (0.0, 0.0, 2.0, 2 * 0.398942),  # normal: spread G(0)
    ],
)
def test_expected_shortage_table(level, mu, spread, shortage):
    assert expected_shortage(level, mu, spread) == pytest.approx(shortage, abs=1e-5)


@pytest.mark.parametrize(
    ("level", "mu", "spread", "per_review", "fill"),
    [
        (10.0 * math.log(20), 10.0, 10.0, 5.0, 0.9),  # 1 - 0.5 / 5
        (0.0, 10.0, 10.0, 5.0, 0.0),  # more shortage than a review's demand: clipped at 0
        (10.0, 10.0, 0.0, 0.0, None),  # no demand expected: no fill rate
    ],
)
def test_expected_fill_rate_table(level, mu, spread, per_review, fill):
    got = expected_fill_rate(level, mu, spread, per_review)
    assert got is None if fill is None else got == pytest.approx(fill, abs=1e-5)


def test_stockout_probability_at_s_is_one_minus_the_service_level_for_every_spread():
    for mu, spread in [(3.0, 4.0), (50.0, 10.0), (500.0, 20.0), (0.5, 0.1)]:
        for level in (0.9, 0.95, 0.98):
            s_level = policy_levels(mu, spread, level).order_up_to_level
            assert stockout_probability(s_level, mu, spread) == pytest.approx(1 - level, abs=1e-9)


@pytest.mark.parametrize(
    ("forecast", "lead", "stock", "spread", "method", "missing"),
    [
        (True, True, True, True, "sigma", []),
        (False, True, True, False, "sigma", ["forecast (no sales history)"]),  # no spread asked
        (True, False, False, True, "sigma", ["lead_time_days", "stock level"]),
        (True, True, True, False, "sigma", ["forecast error estimate (no holdout)"]),
        (True, True, True, False, "quantile", ["forecast quantiles above the median"]),
    ],
)
def test_what_is_missing_table(forecast, lead, stock, spread, method, missing):
    assert what_is_missing(forecast, lead, stock, spread, method) == missing


def test_normal_loss_matches_its_definition():
    # G(k) = E[(Z - k)+], integrated numerically.
    x = np.linspace(-10, 10, 200_001)
    for k in (-1.0, 0.0, 1.2816, 1.6449):
        numeric = np.trapezoid(np.clip(x - k, 0, None) * norm.pdf(x), x)
        assert normal_loss(k) == pytest.approx(numeric, abs=1e-6)


@pytest.mark.parametrize(
    ("dist", "tolerance"),
    [
        (stats.norm(10, 2), 0.01),
        (stats.poisson(5), 0.01),
        (stats.poisson(20), 0.01),
        (stats.nbinom(1.5, 1.5 / 11.5), 0.02),  # mean 10, erratic
        (stats.gamma(0.5, scale=2), 0.03),  # mean 1, very skewed
    ],
)
def test_mean_from_quantiles_recovers_the_mean(dist, tolerance):
    q = dist.ppf(LEVELS)[None, :]
    assert mean_from_quantiles(q, LEVELS)[0] == pytest.approx(dist.mean(), rel=tolerance)


def test_mean_from_quantiles_of_a_slow_mover_is_not_its_median():
    # Poisson(0.5) deciles are 0,0,0,0,0,0,1,1,1: the median is 0, the mean 0.5. Every Poisson
    # mean from 0.357 to 0.511 has those deciles; the estimate lies in that range, near 0.43.
    q = stats.poisson(0.5).ppf(LEVELS)
    assert list(q) == [0, 0, 0, 0, 0, 0, 1, 1, 1]
    est = mean_from_quantiles(q[None, :], LEVELS)[0]
    assert 0.357 < est < 0.511 and est == pytest.approx(0.5, abs=0.08)
    assert mean_from_quantiles(np.array([[3.0]]), (0.5,))[0] == 3.0  # a median alone
    with pytest.raises(ValueError):
        mean_from_quantiles(np.array([[1.0, 2.0]]), (0.1, 0.9))


def test_expected_demand_prefers_the_mean_then_a_mean_point_then_the_quantiles():
    deciles = {c: stats.poisson(0.5).ppf(p) for p, c in zip(LEVELS, QCOLS, strict=True)}
    rows = pd.DataFrame({"point": [0.0, 0.0]} | deciles)
    from_grid = mean_from_quantiles(rows[QCOLS].to_numpy(), LEVELS)
    assert expected_daily_demand(rows.assign(mean=0.5), "chronos-2", LEVELS) == pytest.approx([0.5, 0.5])
    assert expected_daily_demand(rows, "auto_ets", LEVELS) == pytest.approx([0.0, 0.0])  # ETS point = mean
    assert expected_daily_demand(rows, "chronos-2", LEVELS) == pytest.approx(from_grid)  # point = median
    assert expected_daily_demand(rows[["point"]], "chronos-2", LEVELS) == pytest.approx([0.0, 0.0])
    assert quantile_levels_in(rows) == LEVELS


def test_forecast_error_sigma_keeps_the_bias_and_skips_stockout_days():
    backtest = pd.DataFrame(
        {
            "item_id": ["a"] * 4 + ["b"] * 3,
            "model": ["auto_ets"] * 7,
            "point": [4.0, 4.0, 4.0, 4.0, 2.0, 2.0, 2.0],
            "units_sold": [5.0, 5.0, 5.0, 0.0, 1.0, 3.0, 2.0],
            "is_stockout": [0, 0, 0, 1, 0, 0, 0],
        }
    )
    sigma = forecast_error_sigma(backtest)
    # a: always 1 short on in-stock days: RMSE 1 where std(ddof=1) would say 0.
    # b: errors 1, -1, 0: RMSE sqrt(2 / 3).
    assert sigma.to_dict() == pytest.approx({"a": 1.0, "b": math.sqrt(2 / 3)})


def _inputs(lead_time, lead_std=None, sigma_d=3.0, quantile_sd=2.0):
    dates = pd.date_range("2026-11-01", periods=28)
    forecast = pd.DataFrame({"item_id": "A", "date": dates, "point": 10.0})
    for p, col in zip(LEVELS, QCOLS, strict=True):
        forecast[col] = 10.0 + quantile_sd * norm.ppf(p)
    products = pd.DataFrame(
        {
            "item_id": ["A", "B"],
            "lead_time_days": [lead_time, None],
            "lead_time_std_days": [lead_std, None],
            "moq": [1.0, 1.0],
            "pack_size": [5.0, 1.0],
        }
    )
    stock = pd.DataFrame({"item_id": ["A"], "date": [dates[0]], "on_hand": [30.0], "on_order": [0.0]})
    champions = pd.DataFrame({"item_id": ["A"], "champion_model": ["auto_ets"]})
    return forecast, pd.Series({"A": sigma_d}), champions, products, stock


def _recs(lead_time=4.0, service_level=0.95, method="sigma", **kw):
    return inventory_recommendations(
        *_inputs(lead_time, **kw),
        service_level=service_level,
        review_period_days=7,
        method=method,
        quantile_levels=LEVELS,
    ).set_index("item_id")


def _gamma_s(mu: float, spread: float, level: float = 0.95) -> float:
    """The gamma quantile the policy stocks to, from scipy's own parametrisation (reference)."""
    return float(stats.gamma.ppf(level, (mu / spread) ** 2, scale=spread**2 / mu))


def test_recommendation_values_and_incomplete_rows():
    # d = 10 a day, sigma_d = 3, L = 4, R = 7: exposure 11 days, spread 3 sqrt(11) = 9.950;
    # S = the 95% quantile of the gamma with mean 110 and sd 9.950 (shape 122.2) = 126.86, the
    # reorder point; SS = 16.86, a little above the normal's 16.37 (the gamma's right skew).
    a = _recs().loc["A"]
    spread = 3.0 * math.sqrt(11)
    assert _gamma_s(110.0, spread) == pytest.approx(126.8616, abs=1e-4)
    ss = _gamma_s(110.0, spread) - 110.0
    assert a["status"] == "ok" and pd.isna(a["missing"])
    assert a["safety_stock_method"] == "sigma"
    assert a["safety_stock"] == pytest.approx(ss) and a["safety_stock_sigma"] == pytest.approx(ss)
    assert a["lead_time_demand"] == pytest.approx(40.0) and a["exposure_demand"] == pytest.approx(110.0)
    assert a["order_up_to_level"] == pytest.approx(110.0 + ss) == a["reorder_point"]
    assert a["days_of_inventory"] == pytest.approx(3.0)
    # position 30 < S: need 126.86 - 30 = 96.86 -> 100 in packs of 5
    assert a["suggested_order_qty"] == 100
    # Without an order, a stock-out is near certain: P(demand over 11 days > 30) ~ 1.
    assert a["stockout_probability"] == pytest.approx(1.0)
    # Expected shortage at S 0.2334 over 70 a review: 1 - 0.2334 / 70 = 0.99667.
    assert a["fill_rate"] == pytest.approx(0.99667, abs=1e-5)
    # The quantile method is reported beside it: daily sd 2 from the quantiles, spread 2 sqrt(11);
    # the descriptive lead-time quantile covers L = 4 days only: gamma(mean 40, sd 4) at 95% = 46.80.
    assert a["quantile_sigma_daily_demand"] == pytest.approx(2.0)
    assert a["safety_stock_quantile"] == pytest.approx(_gamma_s(110.0, 2.0 * math.sqrt(11)) - 110.0)
    assert a["lead_time_demand_quantile"] == pytest.approx(46.7989, abs=1e-4)
    b = _recs().loc["B"]
    assert b["status"] == "incomplete"
    assert "lead_time_days" in b["missing"] and "stock level" in b["missing"]
    assert "forecast" in b["missing"]
    assert pd.isna(b["safety_stock"]) and pd.isna(b["suggested_order_qty"])


def test_quantile_method_drives_the_decision_when_chosen():
    a = _recs(method="quantile").loc["A"]
    spread = 2.0 * math.sqrt(11)  # 6.633
    ss = _gamma_s(110.0, spread) - 110.0  # 11.13
    assert a["safety_stock_method"] == "quantile" and a["status"] == "ok"
    assert a["safety_stock"] == pytest.approx(ss)
    assert a["reorder_point"] == pytest.approx(110.0 + ss) == a["order_up_to_level"]
    assert a["suggested_order_qty"] == 95  # 110 + 11.13 - 30 = 91.13 -> 95 in packs of 5
    assert a["fill_rate"] == pytest.approx(1 - 0.14991 / 70, abs=1e-6)  # shortage at S 0.14991
    assert a["safety_stock_sigma"] == pytest.approx(_gamma_s(110.0, 3.0 * math.sqrt(11)) - 110.0)  # reported


def test_lead_time_variability_enters_both_methods():
    # d = 10, sigma_L = 1, L + R = 11: sigma method sqrt(11 * 9 + 100) = sqrt(199); quantile
    # sqrt(11 * 4 + 100) = 12.
    a = _recs(lead_std=1.0).loc["A"]
    assert a["safety_stock_sigma"] == pytest.approx(_gamma_s(110.0, math.sqrt(199)) - 110.0)  # 24.19
    assert a["safety_stock_quantile"] == pytest.approx(_gamma_s(110.0, 12.0) - 110.0)  # 20.45


def test_missing_spread_of_the_chosen_method_is_named():
    forecast, _, champions, products, stock = _inputs(4.0)
    recs = inventory_recommendations(
        forecast, pd.Series(dtype=float), champions, products, stock, 0.95, 7, method="sigma"
    ).set_index("item_id")
    assert recs.loc["A", "status"] == "incomplete"
    assert recs.loc["A", "missing"] == "forecast error estimate (no holdout)"
    # What does not need the spread is still filled; nothing is guessed.
    assert recs.loc["A", "days_of_inventory"] == pytest.approx(3.0)
    assert pd.isna(recs.loc["A", "safety_stock"]) and pd.isna(recs.loc["A", "reorder_point"])
    no_quantiles = inventory_recommendations(
        forecast[["item_id", "date", "point"]],
        pd.Series({"A": 3.0}),
        champions,
        products,
        stock,
        0.95,
        7,
        method="quantile",
        quantile_levels=LEVELS,
    ).set_index("item_id")
    assert no_quantiles.loc["A", "missing"] == "forecast quantiles above the median"
    assert no_quantiles.loc["A", "safety_stock_sigma"] == pytest.approx(
        _gamma_s(110.0, 3 * math.sqrt(11)) - 110.0
    )
    with pytest.raises(ValueError):
        inventory_recommendations(forecast, pd.Series(dtype=float), champions, products, stock, 0.95, 7, "x")


@pytest.mark.parametrize("method", ["sigma", "quantile"])
@pytest.mark.parametrize("lead_std", [None, 1.5])
def test_higher_service_level_never_lowers_safety_stock_or_reorder_point(method, lead_std):
    rows = [
        _recs(service_level=s, method=method, lead_std=lead_std).loc["A"] for s in np.linspace(0.5, 0.995, 25)
    ]
    for lo, hi in itertools.pairwise(rows):
        assert hi["safety_stock"] >= lo["safety_stock"]
        assert hi["reorder_point"] >= lo["reorder_point"]


@pytest.mark.parametrize("method", ["sigma", "quantile"])
@pytest.mark.parametrize("lead_std", [None, 2.0])
def test_longer_lead_time_never_lowers_reorder_point(method, lead_std):
    # Includes fractional lead times and lead times beyond the 28-day horizon.
    rops = [
        _recs(lt, method=method, lead_std=lead_std).loc["A", "reorder_point"]
        for lt in [0, 1, 2, 3.5, 5, 10, 27, 28.5, 40]
    ]
    assert all(b >= a for a, b in itertools.pairwise(rops))


def test_longer_lead_time_never_lowers_reorder_point_on_uneven_forecasts():
    rng = np.random.default_rng(7)
    for _ in range(20):
        forecast, sigma, champions, products, stock = _inputs(1.0)
        level = rng.gamma(2.0, 5.0, size=len(forecast))
        spread = rng.uniform(0.0, 4.0, size=len(forecast))
        forecast["point"] = level
        for p, col in zip(LEVELS, QCOLS, strict=True):
            forecast[col] = np.clip(level + spread * norm.ppf(p), 0, None)
        for method in ("sigma", "quantile"):
            rops = []
            for lt in np.linspace(0, 35, 36):
                products.loc[0, "lead_time_days"] = lt
                recs = inventory_recommendations(
                    forecast, sigma, champions, products, stock, 0.95, 7, method, LEVELS
                )
                rops.append(recs.loc[0, "reorder_point"])
            assert all(b >= a - 1e-9 for a, b in itertools.pairwise(rops))


def test_abc_by_revenue_share():
    # Shares 0.50, 0.30, 0.10, 0.06, 0.04. Revenue ranked above each item: 0, 0.5, 0.8, 0.9, 0.96.
    # A while that is below 0.8, B below 0.95, else C.
    revenue = pd.Series({"e": 40.0, "a": 500.0, "b": 300.0, "c": 100.0, "d": 60.0, "z": 0.0})
    assert abc_classes(revenue).to_dict() == {"e": "C", "a": "A", "b": "A", "c": "B", "d": "B", "z": "C"}
    # A single dominant item is A, never B: the class follows where its revenue starts.
    assert abc_classes(pd.Series({"x": 90.0, "y": 10.0})).to_dict() == {"x": "A", "y": "B"}
    assert abc_classes(revenue, (0.5, 0.9)).to_dict()["b"] == "B"
    assert set(abc_classes(pd.Series({"x": 0.0, "y": 0.0}))) == {"C"}


def test_xyz_by_coefficient_of_variation():
    assert [xyz_class(v) for v in (0.0, 0.49, 0.5, 0.99, 1.0, 3.0, None)] == [
        "X",
        "X",
        "Y",
        "Y",
        "Z",
        "Z",
        None,
    ]
    assert xyz_class(0.6, (0.7, 1.2)) == "X"
    with pytest.raises(ValueError):
        xyz_class(0.6, (1.0, 0.5))


def test_weekly_cv_hand_computed():
    # Week 0 (the 7 days up to as_of) sells 10 a day = 70, week 1 sells 20 a day = 140:
    # mean 105, sample std sqrt(2 * 35^2 / 1) = 49.50, CV = 0.4714.
    as_of = pd.Timestamp("2026-10-28")
    dates = pd.Series(pd.date_range(end=as_of, periods=14))
    units = pd.Series([20.0] * 7 + [10.0] * 7)
    assert weekly_cv(dates, units, as_of) == pytest.approx(35 * math.sqrt(2) / 105)
    assert weekly_cv(dates[7:], units[7:], as_of) is None  # one week: no CV


def test_syntetos_boylan_classes_hand_computed():
    # Syntetos, Boylan & Croston (2005), cut-offs ADI 1.32 and CV^2 0.49, CV^2 of non-zero sizes.
    # 0,3,0,0,5,0,4,0: ADI 8/3 = 2.667; sizes 3,5,4 mean 4, sample var 1 -> CV^2 1/16.
    assert adi_cv2(np.array([0, 3, 0, 0, 5, 0, 4, 0])) == pytest.approx((8 / 3, 0.0625))
    assert demand_class(*adi_cv2(np.array([0, 3, 0, 0, 5, 0, 4, 0]))) == "intermittent"
    # 2,3,2,3: ADI 1; mean 2.5, sample var 1/3 -> CV^2 0.0533: smooth.
    assert demand_class(*adi_cv2(np.array([2, 3, 2, 3]))) == "smooth"
    # 1,9,1,9: ADI 1; mean 5, sample var 64/3 -> CV^2 0.853: erratic.
    assert adi_cv2(np.array([1, 9, 1, 9]))[1] == pytest.approx(64 / 3 / 25)
    assert demand_class(*adi_cv2(np.array([1, 9, 1, 9]))) == "erratic"
    # 0,0,1,0,0,9,0,0: ADI 4; mean 5, sample var 32 -> CV^2 1.28: lumpy.
    assert demand_class(*adi_cv2(np.array([0, 0, 1, 0, 0, 9, 0, 0]))) == "lumpy"
    # The cut-offs themselves belong to the upper class.
    assert demand_class(1.32, 0.2) == "intermittent" and demand_class(1.0, 0.49) == "erratic"
    assert adi_cv2(np.zeros(5)) == (None, None) and adi_cv2(np.array([0, 4, 0]))[1] is None


def test_demand_profile_excludes_stockout_days_and_covers_every_item():
    as_of = pd.Timestamp("2026-10-28")
    dates = pd.date_range(end=as_of, periods=14)
    a = pd.DataFrame({"item_id": "a", "date": dates, "units_sold": [20.0] * 7 + [10.0] * 7, "price": 2.0})
    a["is_stockout"] = 0
    a.loc[3, ["units_sold", "is_stockout"]] = [0.0, 1]  # a stock-out day: not zero demand
    b = pd.DataFrame(
        {"item_id": "b", "date": dates, "units_sold": [0.0, 5.0] * 7, "price": 1.0, "is_stockout": 0}
    )
    old = pd.DataFrame(  # outside the 365-day window: ignored
        {"item_id": ["b"], "date": [as_of - pd.Timedelta(days=400)], "units_sold": [1e6], "price": [1.0]}
    ).assign(is_stockout=0)
    profile = demand_profile(pd.concat([old, a, b]), ["a", "b", "never_sold"], as_of).set_index("item_id")
    # Revenue a = (6 * 20 + 7 * 10) * 2 = 380, b = 35: shares 0.9157 and 0.0843.
    assert profile.loc["a", "revenue"] == pytest.approx(380.0)
    assert profile.loc["b", "revenue_share"] == pytest.approx(35 / 415)
    assert profile["abc_class"].to_dict() == {"a": "A", "b": "B", "never_sold": "C"}
    assert profile.loc["a", "weekly_demand_cv"] == pytest.approx(35 * math.sqrt(2) / 105)  # as above
    assert profile.loc["a", "xyz_class"] == "X"
    assert profile.loc["a", "adi"] == pytest.approx(1.0)  # 13 in-stock days, all with demand
    assert (
        profile.loc["b", "adi"] == pytest.approx(2.0) and profile.loc["b", "demand_class"] == "intermittent"
    )
    # b's last week sells 5 on 4 days = 20, the week before on 3 days = 15: CV = 2.5 sqrt(2) / 17.5.
    assert profile.loc["b", "weekly_demand_cv"] == pytest.approx(2.5 * math.sqrt(2) / 17.5)
    assert profile.loc["never_sold"].drop(["revenue", "revenue_share", "abc_class"]).isna().all()


def test_profile_flows_into_the_inventory_table_with_its_types():
    forecast, sigma, champions, products, stock = _inputs(4.0)
    profile = pd.DataFrame(
        {
            "item_id": ["A", "B"],
            "revenue": [10.0, 0.0],
            "revenue_share": [1.0, 0.0],
            "abc_class": ["A", "C"],
            "weekly_demand_cv": [0.2, None],
            "xyz_class": ["X", None],
            "adi": [1.0, None],
            "demand_size_cv2": [0.1, None],
            "demand_class": ["smooth", None],
        }
    )
    recs = inventory_recommendations(
        forecast, sigma, champions, products, stock, 0.95, 7, "sigma", LEVELS, profile
    )
    table = to_inventory_table(recs)
    assert dict(table.schema) == OUTPUT_SCHEMA
    rows = {r["item_id"]: r for r in table.to_dicts()}
    assert rows["A"]["abc_class"] == "A" and rows["A"]["demand_class"] == "smooth"
    assert rows["B"]["abc_class"] == "C" and rows["B"]["status"] == "incomplete"
    # Values that are not there are nulls, not NaN numbers a SQL `is not null` lets through.
    assert rows["B"]["safety_stock"] is None and rows["B"]["weekly_demand_cv"] is None
    assert table.select(pl.col(pl.Float64).is_nan().any()).row(0) == (False,) * len(
        [t for t in OUTPUT_SCHEMA.values() if t == pl.Float64]
    )


@pytest.mark.parametrize(
    ("backtest_dates", "start"),
    [
        ([], "2025-10-31"),  # no backtest: the classes' 364 days
        (["2026-09-10", "2026-10-08"], "2025-10-31"),  # backtests inside that window
        (["2025-10-01", "2026-10-08"], "2025-09-30"),  # an older backtest: from the day before it
    ],
)
def test_inventory_reads_demand_from_the_earlier_of_its_class_window_and_its_backtests(backtest_dates, start):
    as_of = pd.Timestamp("2026-10-30")
    live = [("forecast", pd.Timestamp("2025-01-01"))]  # a live forecast's dates never widen the read
    rows = [("backtest", pd.Timestamp(d)) for d in backtest_dates] + live
    forecasts = pd.DataFrame(rows, columns=["kind", "date"])
    assert demand_window_start(forecasts, as_of) == pd.Timestamp(start)
