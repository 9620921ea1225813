import numpy as np
import pandas as pd
import pytest

from forecast_assets.core.forecasting.backtest import (
    attach_actuals,
    backtest_cutoffs,
    backtest_windows,
    split_window,
)

AS_OF = pd.Timestamp("2024-03-31")


def _demand(days: int = 120, items: tuple[str, ...] = ("A", "B")) -> pd.DataFrame:
    dates = pd.date_range(end=AS_OF, periods=days, freq="D")
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        [
            {"item_id": item, "date": d, "units_sold": float(rng.poisson(5)), "is_stockout": 0}
            for item in items
            for d in dates
        ]
    )


def test_cutoffs_follow_as_of_minus_horizon_minus_k_steps():
    cutoffs = backtest_cutoffs(AS_OF, horizon=28, n_windows=3, step=7)
    # as_of - 28 - k*7 for k = 0, 1, 2 (2024 is a leap year: March 3, Feb 25, Feb 18), oldest first
    assert cutoffs == [
        pd.Timestamp("2024-02-18"),
        pd.Timestamp("2024-02-25"),
        pd.Timestamp("2024-03-03"),
    ]
    # the most recent window ends exactly at as_of
    assert cutoffs[-1] + pd.Timedelta(days=28) == AS_OF
    assert backtest_cutoffs("2024-03-31", 1, 1, 1) == [pd.Timestamp("2024-03-30")]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"horizon": 0, "n_windows": 1, "step": 1}, ValueError),
        ({"horizon": 7, "n_windows": 0, "step": 1}, ValueError),
        ({"horizon": 7, "n_windows": 2, "step": 0}, ValueError),
        ({"horizon": 7, "n_windows": 2, "step": -3}, ValueError),
        ({"horizon": 7.5, "n_windows": 2, "step": 1}, TypeError),
        ({"horizon": 7, "n_windows": True, "step": 1}, TypeError),
    ],
)
def test_invalid_window_parameters_are_rejected(kwargs, error):
    with pytest.raises(error, match="must be"):
        backtest_cutoffs(AS_OF, **kwargs)


def test_short_history_drops_windows_without_enough_training_data():
    first = AS_OF - pd.Timedelta(days=59)  # 60 days of data
    cutoffs = backtest_cutoffs(AS_OF, 28, 4, 7, first_date=first, min_train_days=14)
    # cutoffs as_of-28 (32 train days), -35 (25), -42 (18), -49 (11 < 14: dropped)
    assert len(cutoffs) == 3
    assert all((c - first).days + 1 >= 14 for c in cutoffs)


def test_split_never_trains_on_or_scores_the_wrong_side_of_the_cutoff():
    demand = _demand()
    horizon = 14
    windows = list(backtest_windows(demand, AS_OF, horizon=horizon, n_windows=5, step=10))
    assert [w.cutoff for w in windows] == backtest_cutoffs(AS_OF, horizon, 5, 10)
    for window in windows:
        assert (window.train["date"] <= window.cutoff).all()  # no training date after the cutoff
        assert (window.test["date"] > window.cutoff).all()  # no scoring date on/before the cutoff
        assert (window.test["date"] <= window.cutoff + pd.Timedelta(days=horizon)).all()
        # every item is scored on exactly the horizon's days
        assert window.test.groupby("item_id")["date"].nunique().tolist() == [horizon, horizon]
        assert (
            len(window.train) + len(window.test)
            == (demand["date"] <= window.cutoff + pd.Timedelta(days=horizon)).sum()
        )


def test_split_requires_the_demand_columns():
    with pytest.raises(ValueError, match="lacks columns"):
        split_window(pd.DataFrame({"item_id": ["A"], "date": [AS_OF]}), AS_OF, 7)


def _forecast_rows(cutoff: pd.Timestamp, horizon: int, model: str = "m") -> pd.DataFrame:
    dates = pd.date_range(cutoff + pd.Timedelta(days=1), periods=horizon, freq="D")
    return pd.DataFrame(
        {
            "model": model,
            "item_id": "A",
            "date": dates,
            "cutoff": cutoff,
            "point": 5.0,
            "q10": 3.0,
            "q50": 5.0,
            "q90": 7.0,
        }
    )


def test_attach_actuals_drops_stockouts_and_numbers_steps():
    demand = _demand(items=("A",))
    cutoff = AS_OF - pd.Timedelta(days=7)
    demand.loc[demand["date"] == cutoff + pd.Timedelta(days=3), "is_stockout"] = 1
    scored = attach_actuals(_forecast_rows(cutoff, 7), demand, (0.1, 0.5, 0.9))
    assert list(scored["step"]) == [1, 2, 4, 5, 6, 7]  # step 3 was a stock-out day
    assert list(scored.columns[:10]) == [
        "model",
        "item_id",
        "date",
        "cutoff",
        "step",
        "actual",
        "point",
        "q10",
        "q50",
        "q90",
    ]
    assert (scored["date"] > scored["cutoff"]).all()


def test_attach_actuals_rejects_forecasts_dated_on_their_origin():
    demand = _demand(items=("A",))
    cutoff = AS_OF - pd.Timedelta(days=7)
    rows = _forecast_rows(cutoff, 3).assign(date=cutoff)
    with pytest.raises(ValueError, match="on or before their origin"):
        attach_actuals(rows, demand)
