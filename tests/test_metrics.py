import math

import numpy as np
import pandas as pd
import pytest

from forecast_assets.core.metrics import point_metrics, seasonal_scale


def test_point_metrics_against_hand_computed_values():
    actual = np.array([10.0, 0.0, 5.0, 5.0])
    forecast = np.array([8.0, 1.0, 5.0, 9.0])
    # errors (f - y): -2, 1, 0, 4 ; |e| = 2, 1, 0, 4
    m = point_metrics(actual, forecast, scale=2.0)
    assert m["mae"] == pytest.approx(7 / 4)
    assert m["rmse"] == pytest.approx(math.sqrt((4 + 1 + 0 + 16) / 4))
    assert m["bias"] == pytest.approx(3 / 4)
    assert m["wape"] == pytest.approx(7 / 20)
    assert m["mase"] == pytest.approx(7 / 4 / 2)
    assert math.isnan(point_metrics(np.zeros(3), np.ones(3))["wape"])


def test_seasonal_scale_is_mean_absolute_weekly_difference():
    history = pd.Series([1, 2, 3, 4, 5, 6, 7, 3, 2, 3, 4, 5, 6, 9], dtype=float)
    # differences y_t - y_{t-7}: 2, 0, 0, 0, 0, 0, 2 -> mean 4/7
    assert seasonal_scale(history) == pytest.approx(4 / 7)
    assert math.isnan(seasonal_scale(pd.Series([1.0, 2.0])))
