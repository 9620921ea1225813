import math

import numpy as np
import pandas as pd
import pytest

from forecast_assets.core.evaluation.champions import choose_champions, choose_client_champions
from forecast_assets.core.evaluation.metrics import accuracy_by_level
from forecast_assets.core.evaluation.scoring import (
    baseline_accuracy,
    evaluate_backtest,
    forecast_value_added,
    live_accuracy,
    with_champions,
)
from forecast_assets.core.forecasting.backtest import backtest_cutoffs
from tests.test_metrics import uneven_scored

AS_OF = pd.Timestamp("2024-03-31")
ALL = {"chronos-2", "auto_ets", "seasonal_naive", "moving_average_7"}


def _accuracy(scores: dict[tuple[str, str], float], metric: str = "mae") -> pd.DataFrame:
    rows = [
        {"level": "item", "item_id": item, "model": model, "n_obs": 7, metric: value}
        for (item, model), value in scores.items()
    ]
    return pd.DataFrame(rows)


def _champion(table: pd.DataFrame, item: str) -> pd.Series:
    return table.set_index("item_id").loc[item]


def test_without_incumbent_the_lowest_score_wins_and_ties_follow_the_fallback_order():
    accuracy = _accuracy(
        {
            ("A", "auto_ets"): 2.0,
            ("A", "seasonal_naive"): 2.0,
            ("A", "chronos-2"): 3.0,
            ("B", "chronos-2"): 1.5,
            ("B", "auto_ets"): 1.0,
        }
    )
    table = choose_champions(accuracy, ["A", "B"], {"A": ALL, "B": ALL})
    assert _champion(table, "A")["champion_model"] == "auto_ets"  # tie with seasonal_naive
    assert _champion(table, "B")["champion_model"] == "auto_ets"
    assert _champion(table, "B")["reason"] == "lowest holdout MAE"
    assert _champion(table, "B")["selection_score"] == pytest.approx(1.0)


def test_challenger_must_beat_the_incumbent_by_the_margin():
    accuracy = _accuracy(
        {
            ("A", "auto_ets"): 1.0,
            ("A", "chronos-2"): 0.979,  # 2.1% better: below a 5% margin
            ("B", "auto_ets"): 1.0,
            ("B", "chronos-2"): 0.90,  # 10% better: replaces
            ("C", "auto_ets"): 1.0,
            ("C", "chronos-2"): 1.20,  # incumbent still best
        }
    )
    incumbents = {"A": "auto_ets", "B": "auto_ets", "C": "auto_ets"}
    table = choose_champions(
        accuracy, ["A", "B", "C"], {i: ALL for i in "ABC"}, incumbents=incumbents, margin=0.05
    )
    a, b, c = (_champion(table, i) for i in "ABC")
    assert a["champion_model"] == "auto_ets"
    assert a["reason"] == "kept incumbent auto_ets: challenger chronos-2 only 2.1% better on MAE, margin 5%"
    assert a["improvement"] == pytest.approx(0.021)
    assert b["champion_model"] == "chronos-2"
    assert b["reason"] == "challenger chronos-2 replaced incumbent auto_ets: 10.0% better on MAE, margin 5%"
    assert b["previous_champion"] == "auto_ets"
    assert c["champion_model"] == "auto_ets"
    assert c["reason"] == "kept incumbent auto_ets: lowest holdout MAE"
    # without a margin any strict improvement replaces the incumbent
    plain = choose_champions(accuracy, ["A"], {"A": ALL}, incumbents=incumbents)
    assert _champion(plain, "A")["champion_model"] == "chronos-2"


def test_incumbent_without_forecast_or_score_is_replaced_and_unscored_items_keep_or_fall_back():
    accuracy = _accuracy({("A", "auto_ets"): 1.0, ("A", "chronos-2"): 2.0, ("B", "auto_ets"): 1.0})
    available = {
        "A": {"auto_ets", "seasonal_naive"},
        "B": {"auto_ets", "seasonal_naive"},
        "C": {"seasonal_naive", "auto_ets"},
        "D": {"moving_average_7", "seasonal_naive"},
    }
    incumbents = pd.DataFrame(
        {"item_id": ["A", "B", "C"], "champion_model": ["chronos-2", "seasonal_naive", "seasonal_naive"]}
    )
    table = choose_champions(accuracy, ["A", "B", "C", "D"], available, incumbents=incumbents, margin=0.1)
    assert _champion(table, "A")["champion_model"] == "auto_ets"  # chronos-2 has no current forecast
    assert "no current forecast" in _champion(table, "A")["reason"]
    assert _champion(table, "B")["champion_model"] == "auto_ets"  # incumbent has no score
    assert _champion(table, "C")["champion_model"] == "seasonal_naive"  # nothing scored: kept
    assert _champion(table, "C")["reason"] == "no holdout score: kept incumbent seasonal_naive"
    assert _champion(table, "D")["champion_model"] == "seasonal_naive"  # fallback order
    assert _champion(table, "D")["reason"] == "no holdout score: fallback order"
    assert pd.isna(_champion(table, "D")["selection_score"])


def test_selection_metric_is_configurable_and_validated():
    accuracy = _accuracy({("A", "auto_ets"): 1.0, ("A", "chronos-2"): 2.0})
    accuracy["wape"] = [0.5, 0.3]
    table = choose_champions(accuracy, ["A"], {"A": ALL}, metric="wape")
    assert _champion(table, "A")["champion_model"] == "chronos-2"
    assert _champion(table, "A")["reason"] == "lowest holdout WAPE"
    with pytest.raises(ValueError, match="champion metric"):
        choose_champions(accuracy, ["A"], {"A": ALL}, metric="bias")
    with pytest.raises(ValueError, match="margin"):
        choose_champions(accuracy, ["A"], {"A": ALL}, margin=1.5)


def test_forecast_value_added_against_seasonal_naive():
    accuracy = pd.DataFrame(
        [
            {"level": "item", "item_id": "A", "model": "chronos-2", "mae": 3.0},
            {"level": "item", "item_id": "A", "model": "seasonal_naive", "mae": 4.0},
            {"level": "item", "item_id": "B", "model": "chronos-2", "mae": 5.0},
            {"level": "item", "item_id": "B", "model": "seasonal_naive", "mae": 4.0},
            {"level": "item", "item_id": "C", "model": "chronos-2", "mae": 1.0},
            {"level": "client", "item_id": None, "model": "chronos-2", "mae": 8.0},
            {"level": "client", "item_id": None, "model": "seasonal_naive", "mae": 10.0},
        ]
    )
    fva = forecast_value_added(accuracy).set_index(["level", "item_id", "model"])["fva"]
    assert fva[("item", "A", "chronos-2")] == pytest.approx(1 - 3 / 4)  # 25% less error than naive
    assert fva[("item", "B", "chronos-2")] == pytest.approx(1 - 5 / 4)  # worse than naive: negative
    assert fva[("item", "A", "seasonal_naive")] == pytest.approx(0.0)
    assert math.isnan(fva[("item", "C", "chronos-2")])  # no naive score for C
    client = forecast_value_added(accuracy)
    client = client[(client["level"] == "client") & (client["model"] == "chronos-2")]
    assert client["fva"].iloc[0] == pytest.approx(1 - 8 / 10)


def _weekly_demand(days: int = 84) -> pd.DataFrame:
    # units = weekday pattern + week number: the seasonal naive forecast is off by exactly 1 a day
    # and the in-sample seasonal scale mean |y_t - y_{t-7}| is exactly 1.
    dates = pd.date_range(end=AS_OF, periods=days, freq="D")
    pattern = np.array([3, 5, 4, 6, 8, 12, 10], dtype=float)
    rows = []
    for item, level in (("A", 0.0), ("B", 20.0)):
        for i, d in enumerate(dates):
            rows.append(
                {"item_id": item, "date": d, "units_sold": level + pattern[i % 7] + i // 7, "is_stockout": 0}
            )
    return pd.DataFrame(rows)


def _naive_backtest(demand: pd.DataFrame, cutoffs: list[pd.Timestamp], horizon: int) -> pd.DataFrame:
    assert horizon <= 7  # so the same weekday a week earlier is always on or before the cutoff
    rows = []
    series = demand.set_index(["item_id", "date"])["units_sold"]
    for cutoff in cutoffs:
        for item in ("A", "B"):
            for h in range(1, horizon + 1):
                date = cutoff + pd.Timedelta(days=h)
                source = date - pd.Timedelta(days=7)  # same weekday a week earlier (h <= 7: known)
                value = series[(item, source)]
                for model, point in (("seasonal_naive", value), ("flat", 10.0)):
                    rows.append(
                        {
                            "model": model,
                            "item_id": item,
                            "date": date,
                            "cutoff": cutoff,
                            "point": point,
                            "q10": point - 1,
                            "q50": point,
                            "q90": point + 1,
                        }
                    )
    return pd.DataFrame(rows)


def test_rolling_backtest_scores_every_window_per_item_client_and_step():
    demand = _weekly_demand()
    horizon = 7
    cutoffs = backtest_cutoffs(AS_OF, horizon, n_windows=3, step=7)
    accuracy = evaluate_backtest(_naive_backtest(demand, cutoffs, horizon), demand, (0.1, 0.5, 0.9))
    naive = accuracy[accuracy["model"] == "seasonal_naive"].set_index("level")
    items = naive.loc["item"]
    assert list(items["n_obs"]) == [3 * horizon, 3 * horizon]  # every window of every item
    # one week later each weekday is 1 unit higher: |e| = 1 each day, scale = 1 -> MAE = MASE = 1
    assert list(items["mae"]) == pytest.approx([1.0, 1.0])
    assert list(items["mase"]) == pytest.approx([1.0, 1.0])
    steps = accuracy[(accuracy["level"] == "step") & (accuracy["model"] == "seasonal_naive")]
    assert list(steps["step"]) == list(range(1, horizon + 1))
    assert (steps["n_obs"] == 2 * 3).all()
    # actual = point + 1 lies on q90 = point + 1: inside the band
    assert naive.loc["client", "coverage_80"] == pytest.approx(1.0)
    fva = forecast_value_added(accuracy, levels=("client",)).set_index("model")["fva"]
    assert fva["seasonal_naive"] == pytest.approx(0.0)
    assert fva["flat"] < 0  # a flat 10 is worse than naive here
    champions = choose_champions(
        accuracy, ["A", "B"], {"A": {"flat", "seasonal_naive"}, "B": {"flat", "seasonal_naive"}}
    )
    assert set(champions["champion_model"]) == {"seasonal_naive"}
    table = with_champions(accuracy, champions)
    assert table["is_champion"].sum() == 2
    assert set(table.loc[table["is_champion"], "level"]) == {"item"}


def test_live_accuracy_scores_only_elapsed_dates_per_as_of():
    dates = pd.date_range(end=AS_OF, periods=60, freq="D")
    demand = pd.DataFrame({"item_id": "A", "date": dates, "units_sold": 4.0, "is_stockout": 0})

    def forecast(as_of: pd.Timestamp, point: float, kind: str = "forecast") -> pd.DataFrame:
        future = pd.date_range(as_of + pd.Timedelta(days=1), periods=14, freq="D")
        return pd.DataFrame(
            {
                "as_of": as_of,
                "kind": kind,
                "cutoff": as_of,
                "model": "m",
                "item_id": "A",
                "date": future,
                "step": range(1, 15),
                "point": point,
                "q10": point - 1,
                "q50": point,
                "q90": point + 1,
            }
        )

    early, late = AS_OF - pd.Timedelta(days=10), AS_OF - pd.Timedelta(days=3)
    stored = pd.concat([forecast(early, 5.0), forecast(late, 2.0), forecast(early, 99.0, kind="backtest")])
    live = live_accuracy(stored, demand, (0.1, 0.5, 0.9))
    client = live[live["level"] == "client"].set_index("as_of")
    # early: dates as_of-9 .. as_of have actuals (10 rows), |5 - 4| = 1 ; late: 3 rows, |2 - 4| = 2
    assert client.loc[early, "n_obs"] == 10
    assert client.loc[early, "mae"] == pytest.approx(1.0)
    assert client.loc[late, "n_obs"] == 3
    assert client.loc[late, "mae"] == pytest.approx(2.0)
    assert client.loc[late, "bias"] == pytest.approx(-2.0)
    late_steps = live[(live["level"] == "step") & (live["as_of"] == late)]
    assert list(late_steps["step"]) == [1, 2, 3]
    assert live_accuracy(stored.iloc[0:0], demand).empty


def _item_scores(scores: dict[tuple[str, str], float]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"level": "item", "item_id": i, "model": m, "mae": v} for (i, m), v in scores.items()]
    )


def test_client_champion_serves_every_item_that_has_its_forecast():
    # Per item the winners differ, but over the common items auto_ets has the lowest mean MAE:
    # auto_ets (1.0 + 3.0 + 2.0) / 3 = 2.0; seasonal_naive (2.0 + 2.5 + 2.2) / 3 = 2.233.
    # croston_sba forecasts one item of three (below the coverage floor): not a client candidate.
    accuracy = _item_scores(
        {
            ("a", "auto_ets"): 1.0,
            ("b", "auto_ets"): 3.0,
            ("c", "auto_ets"): 2.0,
            ("a", "seasonal_naive"): 2.0,
            ("b", "seasonal_naive"): 2.5,
            ("c", "seasonal_naive"): 2.2,
            ("c", "croston_sba"): 0.5,
        }
    )
    available = {"a": {"auto_ets", "seasonal_naive"}, "b": {"auto_ets", "seasonal_naive"}}
    available["c"] = {"auto_ets", "seasonal_naive", "croston_sba"}
    out = choose_client_champions(accuracy, ["a", "b", "c"], available).set_index("item_id")
    assert out["champion_model"].to_dict() == {"a": "auto_ets", "b": "auto_ets", "c": "auto_ets"}
    assert out.loc["b", "reason"].startswith(
        "client champion auto_ets (lowest holdout MAE, on 3 common items)"
    )


def test_client_champion_keeps_the_incumbent_within_the_margin_and_covers_gaps():
    # seasonal_naive mean 2.1, auto_ets mean 2.0: 4.8% better, below a 10% margin -> keep naive.
    accuracy = _item_scores(
        {("a", "auto_ets"): 1.0, ("b", "auto_ets"): 3.0, ("a", "seasonal_naive"): 1.2}
        | {("b", "seasonal_naive"): 3.0, ("d", "auto_ets"): 4.0}
    )
    available = {"a": {"auto_ets", "seasonal_naive"}, "b": {"auto_ets", "seasonal_naive"}, "d": {"auto_ets"}}
    incumbents = {"a": "seasonal_naive", "b": "seasonal_naive", "d": "auto_ets"}
    out = choose_client_champions(accuracy, ["a", "b", "d"], available, incumbents=incumbents, margin=0.10)
    out = out.set_index("item_id")
    assert out.loc["a", "champion_model"] == "seasonal_naive" == out.loc["b", "champion_model"]
    assert "kept incumbent seasonal_naive" in out.loc["a", "reason"]
    # d has no seasonal_naive forecast: it gets its own best, and says why.
    assert out.loc["d", "champion_model"] == "auto_ets"
    assert out.loc["d", "reason"].startswith("client champion seasonal_naive has no forecast for this item")
    # With no margin the better mean wins at the client level.
    again = choose_client_champions(accuracy, ["a", "b", "d"], available, incumbents=incumbents, margin=0.0)
    assert set(again["champion_model"]) == {"auto_ets"}


@pytest.mark.parametrize(
    ("level", "model", "key", "fva"),
    [
        # client rows of the models covering most items, on {A, B}: naive MAE (2+2+4+4)/4 = 3
        ("client", "auto_ets", None, 1 - 2 / 3),
        ("client", "auto_theta", None, 1 - 2 / 3),
        ("client", "seasonal_naive", None, 0.0),
        # croston_sba's own-items row (item C) against seasonal_naive on item C: MAE 6
        ("client", "croston_sba", None, 1 - 3 / 6),
        ("step", "croston_sba", 1, 1 - 2 / 6),
        ("step", "auto_theta", 2, 1 - 3 / 3),
        ("item", "auto_ets", "B", 1 - 3 / 4),
        ("item", "croston_sba", "C", 1 - 3 / 6),
    ],
)
def test_fva_compares_each_row_with_the_baseline_on_the_same_items(level, model, key, fva):
    scored = uneven_scored()
    accuracy = accuracy_by_level(scored, quantiles=())
    out = forecast_value_added(
        accuracy, levels=("item", "client", "step"), baseline_scores=baseline_accuracy(scored, ())
    )
    rows = out[(out["level"] == level) & (out["model"] == model)]
    if level == "step":
        rows = rows[rows["step"] == key]
    elif level == "item":
        rows = rows[rows["item_id"] == key]
    assert len(rows) == 1
    assert rows["fva"].iloc[0] == pytest.approx(fva)


def test_without_baseline_scores_fva_is_left_out_where_the_observations_differ():
    accuracy = accuracy_by_level(uneven_scored(), quantiles=())
    client = forecast_value_added(accuracy).query("level == 'client'").set_index("model")
    assert client.loc["auto_ets", "fva"] == pytest.approx(1 - 2 / 3)  # same items as the baseline
    assert math.isnan(client.loc["croston_sba", "fva"])  # 2 observations against 4: not compared
    assert math.isnan(client.loc["croston_sba", "baseline_value"])


def test_client_rows_and_the_client_champion_stand_on_the_same_common_items():
    scored = uneven_scored()
    accuracy = accuracy_by_level(scored, quantiles=())
    available = {item: set(scored.loc[scored["item_id"] == item, "model"]) for item in "ABC"}
    champions = choose_client_champions(accuracy, list("ABC"), available)
    client = accuracy[accuracy["level"] == "client"].set_index("model")
    candidates = ["seasonal_naive", "auto_ets", "auto_theta"]  # croston_sba: 1 item of 3
    assert set(client.loc[candidates, "n_items"]) == {2}
    assert "on 2 common items" in champions.set_index("item_id").loc["A", "reason"]
    # auto_ets and auto_theta tie on the common items; the fallback order breaks the tie
    assert client.loc["auto_ets", "mae"] == client.loc["auto_theta", "mae"]
    assert champions.set_index("item_id").loc["A", "champion_model"] == "auto_ets"
