import math

import numpy as np
import pandas as pd
import pytest
import utilsforecast.losses as ufl

from forecast_assets.core.evaluation.metrics import (
    accuracy_by_level,
    comparison_sets,
    point_metrics,
    score_forecasts,
    seasonal_scale,
    seasonal_scales,
)


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


# A hand-computed scored frame: one model, two items, cutoff 2024-01-07, quantiles 0.1/0.5/0.9.
#   item A (scale 2): steps 1..4, actual 10, 0, 5, 5; point 8, 1, 5, 9
#                     q10 6, 0.5, 4, 4; q50 = point; q90 12, 2, 7, 8
#   item B (scale 1): steps 1..2, actual 0, 0; point 0, 2; q10 0, 0; q50 = point; q90 1, 3
CUTOFF = pd.Timestamp("2024-01-07")
QS = (0.1, 0.5, 0.9)


def _scored() -> pd.DataFrame:
    point = [8.0, 1.0, 5.0, 9.0, 0.0, 2.0]
    return pd.DataFrame(
        {
            "model": "m",
            "item_id": ["A"] * 4 + ["B"] * 2,
            "date": CUTOFF + pd.to_timedelta([1, 2, 3, 4, 1, 2], unit="D"),
            "cutoff": CUTOFF,
            "actual": [10.0, 0.0, 5.0, 5.0, 0.0, 0.0],
            "point": point,
            "q10": [6.0, 0.5, 4.0, 4.0, 0.0, 0.0],
            "q50": point,
            "q90": [12.0, 2.0, 7.0, 8.0, 1.0, 3.0],
            "scale": [2.0, 2.0, 2.0, 2.0, 1.0, 1.0],
        }
    )


def _row(table: pd.DataFrame, level: str, **keys) -> pd.Series:
    rows = table[table["level"] == level]
    for key, value in keys.items():
        rows = rows[rows[key] == value]
    assert len(rows) == 1
    return rows.iloc[0]


def test_item_metrics_against_hand_computed_values():
    table = accuracy_by_level(_scored(), quantiles=QS)
    a = _row(table, "item", item_id="A")
    # errors e = f - y: -2, 1, 0, 4 ; |e| = 2, 1, 0, 4 ; sum |y| = 20
    assert a["n_obs"] == 4
    assert a["mae"] == pytest.approx(7 / 4)
    assert a["rmse"] == pytest.approx(math.sqrt((4 + 1 + 0 + 16) / 4))
    assert a["bias"] == pytest.approx(3 / 4)
    assert a["wape"] == pytest.approx(7 / 20)
    # MAPE on the non-zero actuals only: 2/10, 0/5, 4/5 -> (0.2 + 0 + 0.8) / 3
    assert a["mape"] == pytest.approx(1 / 3)
    # sMAPE terms 2|e|/(|y|+|f|): 4/18, 2/1, 0/10, 8/14 -> (2/9 + 2 + 0 + 4/7) / 4 = 44/63
    assert a["smape"] == pytest.approx(44 / 63)
    # MASE = MAE / scale = 1.75 / 2
    assert a["mase"] == pytest.approx(0.875)
    # pinball rho_q(y, f) = max(q (y-f), (q-1)(y-f)), levels 0.1 / 0.5 / 0.9:
    #   t1 y=10: q10=6 -> 0.1*4=0.4 ; q50=8 -> 0.5*2=1.0 ; q90=12 -> 0.1*2=0.2   sum 1.6
    #   t2 y=0 : q10=0.5 -> 0.9*0.5=0.45 ; q50=1 -> 0.5 ; q90=2 -> 0.1*2=0.2     sum 1.15
    #   t3 y=5 : q10=4 -> 0.1 ; q50=5 -> 0 ; q90=7 -> 0.2                         sum 0.3
    #   t4 y=5 : q10=4 -> 0.1 ; q50=9 -> 0.5*4=2.0 ; q90=8 -> 0.1*3=0.3           sum 2.4
    #   total 5.45
    # WQL = 2 * 5.45 / (3 levels * 20) = 10.9 / 60
    assert a["wql"] == pytest.approx(10.9 / 60)
    # SQL = mean_t (mean_q 2 rho) / scale = (2 * 5.45 / 3 / 4) / 2 = 10.9 / 24
    assert a["sql"] == pytest.approx(10.9 / 24)
    # inside [q10, q90]: 10 in [6,12], 0 not in [0.5,2], 5 in [4,7], 5 in [4,8] -> 3/4
    assert a["coverage_80"] == pytest.approx(0.75)


def test_zero_actuals_give_nan_percentages_and_zero_over_zero_smape():
    b = _row(accuracy_by_level(_scored(), quantiles=QS), "item", item_id="B")
    # actual 0, 0 ; point 0, 2 ; |e| = 0, 2
    assert b["mae"] == pytest.approx(1.0)
    assert math.isnan(b["wape"])  # sum |y| = 0
    assert math.isnan(b["mape"])  # no non-zero actual
    assert math.isnan(b["wql"])  # sum |y| = 0
    # sMAPE terms: 0/0 -> 0 (perfect forecast of zero), 2*2/(0+2) = 2 -> mean 1
    assert b["smape"] == pytest.approx(1.0)
    assert b["mase"] == pytest.approx(1.0)  # MAE 1 / scale 1
    # pinball: t1 y=0: q10=0 -> 0, q50=0 -> 0, q90=1 -> 0.1 ; t2 y=0: 0, 0.5*2=1.0, 0.1*3=0.3
    # SQL = mean(2*0.1/3, 2*1.3/3) / 1 = 2.8 / 6
    assert b["sql"] == pytest.approx(2.8 / 6)
    assert b["coverage_80"] == pytest.approx(1.0)


def test_client_level_pools_rows_of_all_items():
    c = _row(accuracy_by_level(_scored(), quantiles=QS), "client", model="m")
    # e over the 6 rows: -2, 1, 0, 4, 0, 2
    assert c["n_obs"] == 6
    assert c["mae"] == pytest.approx(9 / 6)
    assert c["rmse"] == pytest.approx(math.sqrt(25 / 6))
    assert c["bias"] == pytest.approx(5 / 6)
    assert c["wape"] == pytest.approx(9 / 20)
    assert c["mape"] == pytest.approx(1 / 3)  # B has no non-zero actual
    assert c["smape"] == pytest.approx((176 / 63 + 0 + 2) / 6)
    # scaled errors: A 2/2, 1/2, 0/2, 4/2 ; B 0/1, 2/1 -> 5.5 / 6
    assert c["mase"] == pytest.approx(5.5 / 6)
    # WQL = 2 * (5.45 + 1.4) / (3 * 20)
    assert c["wql"] == pytest.approx(13.7 / 60)
    # SQL = (A: 10.9/6 + B: 5.6/6) / 6 rows
    assert c["sql"] == pytest.approx(16.5 / 36)
    assert c["coverage_80"] == pytest.approx(5 / 6)


def test_step_level_groups_by_days_since_cutoff():
    table = accuracy_by_level(_scored(), quantiles=QS)
    steps = table[table["level"] == "step"].set_index("step")
    assert list(steps.index) == [1, 2, 3, 4]
    assert list(steps["n_obs"]) == [2, 2, 1, 1]
    # step 1: |e| 2 (A), 0 (B) ; step 2: 1, 2 ; step 3: 0 ; step 4: 4
    assert list(steps["mae"]) == pytest.approx([1.0, 1.5, 0.0, 4.0])
    assert math.isnan(steps.loc[2, "wape"])  # both actuals are 0 at step 2


def test_missing_quantiles_and_scales_give_nan_not_errors():
    scored = _scored().drop(columns=["q10", "q50", "q90", "scale"])
    a = _row(accuracy_by_level(scored, quantiles=QS, levels=("item",)), "item", item_id="A")
    assert a["mae"] == pytest.approx(7 / 4)
    for metric in ("mase", "wql", "sql", "coverage_80"):
        assert math.isnan(a[metric])
    assert accuracy_by_level(scored.iloc[0:0], quantiles=QS).empty


def test_metrics_agree_with_utilsforecast_and_fev_definitions():
    rng = np.random.default_rng(3)
    n = 40
    y = rng.poisson(4, n).astype(float)
    f = rng.gamma(2.0, 2.0, n)
    scored = pd.DataFrame(
        {
            "model": "m",
            "item_id": "x",
            "actual": y,
            "point": f,
            "q10": f * 0.5,
            "q50": f,
            "q90": f * 1.5,
            "scale": 1.7,
        }
    )
    row = score_forecasts(scored, ["model", "item_id"], quantiles=QS).iloc[0]
    df = pd.DataFrame({"unique_id": "x", "y": y, "q10": f * 0.5, "q50": f, "q90": f * 1.5})
    # utilsforecast mean pinball per level; fev: 2 * pinball, WQL = mean(ql) / mean(|y|)
    mean_pinball = [
        float(ufl.quantile_loss(df, {"m": c}, q=q)["m"].iloc[0])
        for q, c in zip(QS, ("q10", "q50", "q90"), strict=True)
    ]
    assert row["wql"] == pytest.approx(2 * np.mean(mean_pinball) / np.mean(np.abs(y)))
    assert row["sql"] == pytest.approx(2 * np.mean(mean_pinball) / 1.7)
    nonzero = y != 0
    assert row["mape"] == pytest.approx(np.mean(np.abs(y - f)[nonzero] / y[nonzero]))
    assert row["smape"] == pytest.approx(np.mean(2 * np.abs(y - f) / (np.abs(y) + np.abs(f))))


def test_seasonal_scales_use_only_data_up_to_each_cutoff():
    dates = pd.date_range("2024-01-01", periods=21, freq="D")
    units = [1, 2, 3, 4, 5, 6, 7, 3, 2, 3, 4, 5, 6, 9] + [100] * 7
    demand = pd.DataFrame({"item_id": "A", "date": dates, "units_sold": units})
    scales = seasonal_scales(demand, [dates[13], dates[20]]).set_index("cutoff")["scale"]
    # up to day 14 (as in test_seasonal_scale...): 4/7 ; the jump to 100 only enters the later cutoff
    assert scales[dates[13]] == pytest.approx(4 / 7)
    assert scales[dates[20]] > 4 / 7


@pytest.mark.parametrize(
    ("covered", "min_coverage", "expected"),
    [
        # auto_theta skips the short item 3, croston_sba runs on it alone: the two models covering
        # at least half the items meet on {1, 2}; croston_sba keeps its own item.
        (
            {"auto_ets": {1, 2, 3}, "auto_theta": {1, 2}, "croston_sba": {3}},
            0.5,
            {"auto_ets": {1, 2}, "auto_theta": {1, 2}, "croston_sba": {3}},
        ),
        ({"a": {1, 2}, "b": {1, 2}}, 0.5, {"a": {1, 2}, "b": {1, 2}}),  # same items: unchanged
        ({"a": {1, 2, 3}, "b": {1, 2}}, 1.0, {"a": {1, 2, 3}, "b": {1, 2}}),  # b below a 100% floor
        ({"a": {1, 2}, "b": {3, 4}}, 0.5, {"a": {1, 2}, "b": {3, 4}}),  # nothing shared: own items
        ({"a": {1}, "b": {2}, "c": {3}}, 0.5, {"a": {1}, "b": {2}, "c": {3}}),  # none covers half
        ({}, 0.5, {}),
    ],
)
def test_comparison_sets_put_the_models_covering_most_items_on_common_items(covered, min_coverage, expected):
    assert comparison_sets(covered, min_coverage) == expected


def test_comparison_sets_reject_a_coverage_floor_outside_zero_to_one():
    with pytest.raises(ValueError, match="min_coverage"):
        comparison_sets({"a": {1}}, 0.0)


# Three items, one cutoff, two steps each, actual 10, point = 10 + error. auto_theta was not run on
# item C (too short), croston_sba only on C (intermittent). Absolute errors per step 1, 2:
ERRORS = {
    "seasonal_naive": {"A": (2, 2), "B": (4, 4), "C": (6, 6)},
    "auto_ets": {"A": (1, 1), "B": (3, 3), "C": (5, 5)},
    "auto_theta": {"A": (1, 3), "B": (1, 3)},
    "croston_sba": {"C": (2, 4)},
}


def uneven_scored(errors: dict[str, dict[str, tuple[int, int]]] = ERRORS) -> pd.DataFrame:
    """Scored rows of models run on different items (the table above)."""
    return pd.DataFrame(
        [
            {
                "model": model,
                "item_id": item,
                "cutoff": CUTOFF,
                "date": CUTOFF + pd.Timedelta(days=step),
                "actual": 10.0,
                "point": 10.0 + error,
                "scale": 1.0,
            }
            for model, items in errors.items()
            for item, pair in items.items()
            for step, error in enumerate(pair, start=1)
        ]
    )


@pytest.mark.parametrize(
    ("level", "model", "step", "n_items", "n_obs", "mae"),
    [
        # seasonal_naive, auto_ets and auto_theta cover at least 2 of the 3 items: all on {A, B}.
        # Pooled over their own items, seasonal_naive (4.0) and auto_ets (3.0) would carry the
        # hard item C and auto_theta (2.0) would look better than auto_ets; on {A, B} they tie.
        ("client", "seasonal_naive", None, 2, 4, (2 + 2 + 4 + 4) / 4),
        ("client", "auto_ets", None, 2, 4, (1 + 1 + 3 + 3) / 4),
        ("client", "auto_theta", None, 2, 4, (1 + 3 + 1 + 3) / 4),
        # croston_sba covers 1 item of 3: its own-items row, marked by n_items 1
        ("client", "croston_sba", None, 1, 2, (2 + 4) / 2),
        ("step", "seasonal_naive", 1, 2, 2, (2 + 4) / 2),
        ("step", "auto_ets", 2, 2, 2, (1 + 3) / 2),
        ("step", "auto_theta", 1, 2, 2, (1 + 1) / 2),
        ("step", "croston_sba", 2, 1, 1, 4.0),
        ("item", "auto_ets", None, 1, 2, 5.0),  # item C: item rows keep every item a model scored
    ],
)
def test_client_and_step_rows_compare_models_on_the_same_items(level, model, step, n_items, n_obs, mae):
    table = accuracy_by_level(uneven_scored(), quantiles=())
    keys = {"model": model} | ({"step": step} if step else {}) | ({"item_id": "C"} if level == "item" else {})
    row = _row(table, level, **keys)
    assert (row["n_items"], row["n_obs"]) == (n_items, n_obs)
    assert row["mae"] == pytest.approx(mae)


def test_every_item_row_pools_one_item():
    table = accuracy_by_level(uneven_scored(), quantiles=())
    assert (table.loc[table["level"] == "item", "n_items"] == 1).all()
    assert len(table[table["level"] == "item"]) == 3 + 3 + 2 + 1


def test_a_model_missing_a_cutoff_of_an_item_is_compared_on_the_cutoffs_both_have():
    # chronos-2 could forecast item A only from the later cutoff (too little history before the
    # earlier one); seasonal_naive has both. The client rows pool the same three series.
    later = CUTOFF + pd.Timedelta(days=7)
    rows = []
    for model, series, error in (
        ("seasonal_naive", [("A", CUTOFF), ("A", later), ("B", CUTOFF), ("B", later)], 2.0),
        ("chronos-2", [("A", later), ("B", CUTOFF), ("B", later)], 1.0),
    ):
        for item, cutoff in series:
            rows.append(
                {"model": model, "item_id": item, "cutoff": cutoff, "date": cutoff + pd.Timedelta(days=1)}
                | {"actual": 10.0 + (cutoff == CUTOFF), "point": 10.0 + error}
            )
    client = accuracy_by_level(pd.DataFrame(rows), quantiles=(), levels=("client",)).set_index("model")
    assert client["n_obs"].to_dict() == {"chronos-2": 3, "seasonal_naive": 3}
    assert client["n_items"].to_dict() == {"chronos-2": 2, "seasonal_naive": 2}
    # seasonal_naive's errors on (A, later), (B, earlier), (B, later): 2, 1, 2
    assert client.loc["seasonal_naive", "mae"] == pytest.approx(5 / 3)


def test_each_origin_is_compared_on_its_own_common_items():
    # live accuracy: at the first origin both models forecast A and B, at the second m2 only A.
    first, second = CUTOFF, CUTOFF + pd.Timedelta(days=7)
    errors = {(first, "m1"): "AB", (first, "m2"): "AB", (second, "m1"): "AB", (second, "m2"): "A"}
    scored = pd.DataFrame(
        [
            {"as_of": origin, "cutoff": origin, "model": model, "item_id": item}
            | {"date": origin + pd.Timedelta(days=1), "actual": 5.0, "point": 6.0}
            for (origin, model), items in errors.items()
            for item in items
        ]
    )
    table = accuracy_by_level(scored, quantiles=(), levels=("client",), keys=("as_of",))
    n_items = table.set_index(["as_of", "model"])["n_items"].to_dict()
    assert n_items == {(first, "m1"): 2, (first, "m2"): 2, (second, "m1"): 1, (second, "m2"): 1}
