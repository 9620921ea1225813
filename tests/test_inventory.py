import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from forecast_assets.core.inventory import (
    inventory_recommendations,
    round_order,
    safety_stock,
    service_z,
)


@pytest.mark.parametrize("level", [0.95, 0.975, 0.9, 0.99])
def test_service_z_is_the_normal_quantile(level):
    assert service_z(level) == pytest.approx(norm.ppf(level), abs=1e-12)
    assert service_z(0.95) == pytest.approx(1.6449, abs=1e-4)


def test_safety_stock_textbook_examples():
    # Chopra & Meindl, Supply Chain Management, ch. 12 style example: sigma_d = 10/day,
    # L = 4 days, 95% cycle service level -> SS = 1.645 * 10 * sqrt(4) = 32.9 units.
    assert safety_stock(service_z(0.95), 10.0, 4.0) == pytest.approx(32.897, abs=1e-2)
    # Lead time variability: d = 100/day, sigma_d = 20, L = 7, sigma_L = 2, z(0.95):
    # SS = 1.645 * sqrt(7 * 400 + 100^2 * 4) = 1.645 * sqrt(42800) = 340.3 units.
    assert safety_stock(service_z(0.95), 20.0, 7.0, 100.0, 2.0) == pytest.approx(
        norm.ppf(0.95) * math.sqrt(42800), rel=1e-9
    )


def test_higher_service_level_never_lowers_safety_stock():
    levels = np.linspace(0.5, 0.999, 40)
    stocks = [safety_stock(service_z(s), 7.0, 5.0, 12.0, 1.0) for s in levels]
    assert all(b >= a for a, b in itertools.pairwise(stocks))


def test_round_order_respects_pack_size_and_moq():
    assert round_order(0, 12, 6) == 0
    assert round_order(7, None, 6) == 12
    assert round_order(3, 10, 1) == 10
    assert round_order(3, 10, 4) == 12  # MOQ 10 rounded up to whole packs of 4


def _inputs(lead_time):
    dates = pd.date_range("2026-11-01", periods=28)
    forecast = pd.DataFrame({"item_id": "A", "date": dates, "point": 10.0})
    products = pd.DataFrame(
        {
            "item_id": ["A", "B"],
            "lead_time_days": [lead_time, None],
            "lead_time_std_days": [None, None],
            "moq": [1.0, 1.0],
            "pack_size": [5.0, 1.0],
        }
    )
    stock = pd.DataFrame({"item_id": ["A"], "date": [dates[0]], "on_hand": [30.0], "on_order": [0.0]})
    champions = pd.DataFrame({"item_id": ["A"], "champion_model": ["auto_ets"]})
    return forecast, pd.Series({"A": 3.0}), champions, products, stock


def test_recommendation_values_and_incomplete_rows():
    recs = inventory_recommendations(*_inputs(4.0), service_level=0.95, review_period_days=7).set_index(
        "item_id"
    )
    a = recs.loc["A"]
    ss = norm.ppf(0.95) * 3.0 * 2.0
    assert a["status"] == "ok"
    assert a["safety_stock"] == pytest.approx(ss)
    assert a["reorder_point"] == pytest.approx(40.0 + ss)
    assert a["order_up_to_level"] == pytest.approx(110.0 + ss)
    assert a["days_of_inventory"] == pytest.approx(3.0)
    # position 30 <= ROP, need = 110 + ss - 30 = 89.87 -> 90 in packs of 5
    assert a["suggested_order_qty"] == 90
    assert 0.5 < a["stockout_probability"] < 1
    b = recs.loc["B"]
    assert b["status"] == "incomplete"
    assert "lead_time_days" in b["missing"] and "stock level" in b["missing"]
    assert pd.isna(b["safety_stock"])


def test_longer_lead_time_never_lowers_reorder_point():
    rops = [
        inventory_recommendations(*_inputs(lt), service_level=0.95, review_period_days=7)
        .set_index("item_id")
        .loc["A", "reorder_point"]
        for lt in [1, 2, 3.5, 5, 10, 27, 40]
    ]
    assert all(b >= a for a, b in itertools.pairwise(rops))
