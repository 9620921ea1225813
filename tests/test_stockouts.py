"""Stock-out days are missing demand everywhere: never learned as zeros, never scored as demand."""

import numpy as np
import pandas as pd
import pytest

from forecast_assets.core.evaluation.metrics import seasonal_scale, seasonal_scales
from forecast_assets.core.forecasting.baselines import forecast_baselines, impute_stockouts

QUANTILES = (0.1, 0.5, 0.9)


def _steady(days: int = 140, level: float = 10.0, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2025-01-01", periods=days, freq="D")
    return pd.DataFrame(
        {
            "item_id": "A",
            "date": dates,
            "units_sold": rng.poisson(level, days).astype(float),
            "is_stockout": 0,
        }
    )


def _stock_out_last_week(demand: pd.DataFrame) -> pd.DataFrame:
    out = demand.copy()
    last_week = out.index[-7:]
    out.loc[last_week, "units_sold"] = 0.0
    out.loc[last_week, "is_stockout"] = 1
    return out


def test_a_stocked_out_week_does_not_lower_the_baseline_forecast():
    demand = _steady()
    cutoff = demand["date"].max()
    in_stock = forecast_baselines(demand, cutoff, 14, QUANTILES).forecasts
    stocked_out = forecast_baselines(_stock_out_last_week(demand), cutoff, 14, QUANTILES).forecasts
    as_zeros = forecast_baselines(
        _stock_out_last_week(demand).assign(is_stockout=0), cutoff, 14, QUANTILES
    ).forecasts
    for model in ("seasonal_naive", "moving_average_7", "auto_ets"):
        clean = in_stock.loc[in_stock["model"] == model, "point"].mean()
        treated = stocked_out.loc[stocked_out["model"] == model, "point"].mean()
        naive = as_zeros.loc[as_zeros["model"] == model, "point"].mean()
        assert treated == pytest.approx(clean, rel=0.15), model
        assert naive < 0.6 * clean, f"{model}: the control (zeros taken as demand) should drop"


def test_imputation_uses_only_in_stock_days_before_the_stock_out():
    demand = _stock_out_last_week(_steady(days=60))
    later = demand.copy()
    later.loc[later.index[-7:], "units_sold"] = 999.0  # what the till said on empty-shelf days
    imputed = impute_stockouts(demand)
    assert (imputed["units_sold"].iloc[-7:] > 5).all()
    assert impute_stockouts(later)["units_sold"].tolist() == imputed["units_sold"].tolist()
    assert imputed["units_sold"].iloc[:-7].tolist() == demand["units_sold"].iloc[:-7].tolist()


def test_an_item_never_in_stock_is_imputed_as_zero_not_nan():
    demand = _steady(days=21).assign(is_stockout=1)
    assert impute_stockouts(demand)["units_sold"].eq(0.0).all()


def test_the_mase_scale_leaves_stock_out_days_out():
    demand = _steady(days=70)
    cutoff = demand["date"].max()
    clean = seasonal_scales(demand, [cutoff])["scale"].iloc[0]
    stocked_out = seasonal_scales(_stock_out_last_week(demand), [cutoff])["scale"].iloc[0]
    as_zeros = seasonal_scales(_stock_out_last_week(demand).assign(is_stockout=0), [cutoff])["scale"].iloc[0]
    assert stocked_out == pytest.approx(clean, rel=0.15)
    assert as_zeros > 1.1 * clean
    assert seasonal_scale(pd.Series([1.0, np.nan, 3.0, 1.0, 2.0]), season=1) == pytest.approx(1.5)
