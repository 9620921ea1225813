"""The Chronos code path on a random-weight model: frames, input checks, leakage, streaming, Bolt."""

from dataclasses import FrozenInstanceError, replace

import numpy as np
import pandas as pd
import polars as pl
import pytest

from forecast_assets.core.forecasting.chronos_frames import (
    FUTURE_COVARIATES,
    ForecastInputError,
    build_frames,
    screen_series,
)
from forecast_assets.core.forecasting.chronos_model import (
    load_pipeline,
    model_name,
    predict,
    predict_origins,
    supports_covariates,
)
from forecast_assets.core.forecasting.chronos_stream import StreamSpec, stream_forecasts
from forecast_assets.core.forecasting.frame import quantile_column
from forecast_assets.demo.tiny_chronos import save_tiny_chronos_bolt

QUANTILES = (0.1, 0.5, 0.9)
HORIZON = 14
CUTOFF = pd.Timestamp("2026-06-30")


def make_inputs(n_items: int = 3, days: int = 120, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Demand (as ts_demand_daily) up to CUTOFF + 10 days and a calendar through the horizon."""
    rng = np.random.default_rng(seed)
    end = CUTOFF + pd.Timedelta(days=10)
    dates = pd.date_range(end=end, periods=days, freq="D")
    cal_dates = pd.date_range(dates[0], end + pd.Timedelta(days=HORIZON), freq="D")
    demand, calendar = [], []
    for i in range(n_items):
        item = f"I{i}"
        demand.append(
            pd.DataFrame(
                {
                    "item_id": item,
                    "date": dates,
                    "units_sold": rng.poisson(10 + 3 * i, days).astype(float),
                    "price": 5.0 + i,
                    "is_stockout": (np.arange(days) % 30 == 0).astype(int),
                }
            )
        )
        calendar.append(
            pd.DataFrame(
                {
                    "item_id": item,
                    "date": cal_dates,
                    "promo_flag": 0,
                    "promo_discount": 0.0,
                    "is_holiday": 0,
                    "days_to_holiday": 30,
                    "is_weekend": (cal_dates.dayofweek >= 5).astype(int),
                    "planned_price": 5.0 + i,
                }
            )
        )
    return pd.concat(demand, ignore_index=True), pd.concat(calendar, ignore_index=True)


@pytest.fixture(scope="module")
def pipeline(tiny_model_dir):
    return load_pipeline(str(tiny_model_dir), "cpu", "float32")


def frames_for(demand, calendar, **kwargs):
    return build_frames(demand, calendar, CUTOFF, HORIZON, client_id="shop_a", **kwargs)


def test_frames_carry_covariates_aligned_to_the_horizon():
    demand, calendar = make_inputs()
    events = pd.DataFrame({"date": pd.date_range("2026-01-01", "2026-12-31"), "event_payday": 0.0})
    events.loc[events["date"].dt.day == 1, "event_payday"] = 1.0
    frames = frames_for(demand, calendar, events=events)
    # Past-only covariates only in the context; known-future ones (and the client's events) in both.
    assert {"price", "is_stockout"} <= set(frames.context) and not {"price", "is_stockout"} & set(
        frames.future
    )
    assert {*FUTURE_COVARIATES, "event_payday"} <= set(frames.future) & set(frames.context)
    assert frames.context["date"].max() == CUTOFF
    per_item = frames.future.groupby("item_id")["date"].agg(["min", "max", "count"])
    assert (per_item["min"] == CUTOFF + pd.Timedelta(days=1)).all()
    assert (per_item["count"] == HORIZON).all()
    assert frames.future.loc[frames.future["date"] == "2026-07-01", "event_payday"].eq(1.0).all()
    # Flags are numbers, and a stock-out day is missing demand, not zero demand.
    assert all(frames.future[c].dtype == float for c in FUTURE_COVARIATES)
    stockout = frames.context["is_stockout"] == 1
    assert stockout.any() and frames.context.loc[stockout, "target"].isna().all()
    assert frames.context.loc[~stockout, "target"].notna().all()


def test_context_is_cut_to_the_context_length():
    demand, calendar = make_inputs(days=120)
    frames = frames_for(demand, calendar, context_length=32)
    assert (frames.context.groupby("item_id").size() == 32).all()
    assert frames.context["date"].max() == CUTOFF


def test_nothing_after_the_cutoff_reaches_the_model(pipeline):
    demand, calendar = make_inputs()
    later = demand["date"] > CUTOFF
    tampered = demand.copy()
    tampered.loc[later, "units_sold"] *= 1000
    tampered.loc[later, "price"] = 999.0
    tampered.loc[later, "is_stockout"] = 1
    a, b = frames_for(demand, calendar), frames_for(tampered, calendar)
    pd.testing.assert_frame_equal(a.context, b.context)
    fa = predict(pipeline, a, CUTOFF, HORIZON, QUANTILES)
    fb = predict(pipeline, b, CUTOFF, HORIZON, QUANTILES)
    pd.testing.assert_frame_equal(fa, fb)
    # ...while the history before the cutoff does matter (the test above can fail).
    earlier = tampered.copy()
    earlier.loc[earlier["date"] <= CUTOFF, "units_sold"] *= 3
    fc = predict(pipeline, frames_for(earlier, calendar), CUTOFF, HORIZON, QUANTILES)
    assert not np.allclose(fa["point"], fc["point"])


def test_a_future_promotion_changes_the_forecast(pipeline):
    demand, calendar = make_inputs()
    base = predict(pipeline, frames_for(demand, calendar), CUTOFF, HORIZON, QUANTILES)
    promo = calendar.copy()
    window = (promo["item_id"] == "I1") & promo["date"].between(
        CUTOFF + pd.Timedelta(days=3), CUTOFF + pd.Timedelta(days=9)
    )
    promo.loc[window, ["promo_flag", "promo_discount"]] = [1, 0.3]
    promo.loc[window, "planned_price"] *= 0.7
    changed = predict(pipeline, frames_for(demand, promo), CUTOFF, HORIZON, QUANTILES)
    i1 = base["item_id"] == "I1"
    assert not np.allclose(base.loc[i1, "point"], changed.loc[i1, "point"])
    # Without cross-learning, the other items' forecasts are untouched.
    np.testing.assert_allclose(base.loc[~i1, "point"], changed.loc[~i1, "point"], rtol=1e-5)


def _plan(frames, item: str = "I1") -> pd.Series:
    return frames.future.loc[frames.future["item_id"] == item, "planned_price"].reset_index(drop=True)


def test_a_backtest_plans_with_the_price_known_at_its_cutoff_not_a_later_one():
    """CUTOFF is a backtest origin (demand runs 10 days past it): a price change after it, in
    the sales or in today's list price, must not reach its planned price; one before it must."""
    demand, calendar = make_inputs()
    base = frames_for(demand, calendar)
    assert _plan(base).eq(6.0).all()  # I1's observed price (5 + 1), not a later one

    later = demand.copy()
    later.loc[later["date"] > CUTOFF, "price"] = 9.0
    relisted = calendar.assign(planned_price=calendar["planned_price"] * 2)  # today's list price
    for tampered in (frames_for(later, calendar), frames_for(demand, relisted), frames_for(later, relisted)):
        pd.testing.assert_frame_equal(tampered.future, base.future)
        pd.testing.assert_series_equal(tampered.context["planned_price"], base.context["planned_price"])

    earlier = demand.copy()
    earlier.loc[
        (earlier["item_id"] == "I1") & earlier["date"].between(CUTOFF - pd.Timedelta(days=5), CUTOFF), "price"
    ] = 7.5
    assert _plan(frames_for(earlier, calendar)).eq(7.5).all()


def test_a_backtest_plan_keeps_promotions_on_the_regular_price_known_at_the_cutoff():
    demand, calendar = make_inputs()
    # I1 on a 20 % promotion over the last 4 days before the cutoff (observed at the discounted
    # price) and a 30 % one in the horizon: the regular price is the last one off promotion.
    before = (calendar["item_id"] == "I1") & calendar["date"].between(CUTOFF - pd.Timedelta(days=3), CUTOFF)
    ahead = (calendar["item_id"] == "I1") & calendar["date"].between(
        CUTOFF + pd.Timedelta(days=3), CUTOFF + pd.Timedelta(days=5)
    )
    calendar.loc[before, ["promo_flag", "promo_discount"]] = [1, 0.2]
    calendar.loc[ahead, ["promo_flag", "promo_discount"]] = [1, 0.3]
    on_promo = (demand["item_id"] == "I1") & demand["date"].between(CUTOFF - pd.Timedelta(days=3), CUTOFF)
    demand.loc[on_promo, "price"] = 6.0 * 0.8
    plan = _plan(frames_for(demand, calendar))
    np.testing.assert_allclose(plan, [6.0, 6.0, 4.2, 4.2, 4.2] + [6.0] * (HORIZON - 5))


def test_the_forecast_from_the_last_day_plans_with_todays_list_price():
    """Days after the data ends (``is_future``) were not observed: the calendar's plan (today's
    list price less the promotions) is what is known, and it is used as given."""
    demand, calendar = make_inputs()
    last = CUTOFF + pd.Timedelta(days=10)
    demand = demand[demand["date"] <= CUTOFF]
    calendar = calendar.assign(
        planned_price=calendar["planned_price"] + 1.0, is_future=(calendar["date"] > CUTOFF).astype(int)
    )
    assert _plan(frames_for(demand, calendar)).eq(7.0).all()
    # ...while the same calendar with those days already observed is a backtest: re-based.
    observed = calendar.assign(is_future=(calendar["date"] > last).astype(int))
    assert _plan(frames_for(demand, observed)).eq(6.0).all()


@pytest.mark.parametrize(
    ("tamper", "item", "field", "message"),
    [
        (lambda d, c: (pd.concat([d, d.iloc[[5]]]), c), "I0", "date", "duplicate history date"),
        (lambda d, c: (d.drop(index=40), c), "I0", "date", "irregular history dates"),
        (
            lambda d, c: (d, c[~((c["item_id"] == "I2") & (c["date"] == CUTOFF + pd.Timedelta(days=5)))]),
            "I2",
            "date",
            "irregular calendar dates",
        ),
        (
            lambda d, c: (d, c[~((c["item_id"] == "I1") & (c["date"] > CUTOFF + pd.Timedelta(days=10)))]),
            "I1",
            "date",
            f"must cover exactly {(CUTOFF + pd.Timedelta(days=1)).date()}",
        ),
        (
            lambda d, c: (d.assign(price=d["price"].astype(object).where(d.index != 130, "n/a")), c),
            "I1",
            "price",
            "non-numeric value 'n/a'",
        ),
        (
            lambda d, c: (
                d,
                c.assign(
                    promo_flag=c["promo_flag"]
                    .astype(float)
                    .mask((c["item_id"] == "I2") & (c["date"] == CUTOFF + pd.Timedelta(days=3)))
                ),
            ),
            "I2",
            "promo_flag",
            "no known-future value",
        ),
        (
            lambda d, c: (d[~((d["item_id"] == "I0") & (d["date"] > CUTOFF - pd.Timedelta(days=3)))], c),
            "I0",
            "date",
            "history ends",
        ),
    ],
    ids=["duplicate", "gap", "calendar-gap", "misaligned-future", "non-numeric", "future-nan", "ends-early"],
)
def test_bad_input_names_client_item_and_field(tamper, item, field, message):
    demand, calendar = make_inputs()
    bad_demand, bad_calendar = tamper(demand, calendar)
    with pytest.raises(ForecastInputError) as caught:
        frames_for(bad_demand.reset_index(drop=True), bad_calendar.reset_index(drop=True))
    text = str(caught.value)
    assert text.startswith(f"client 'shop_a', item '{item}', field '{field}':"), text
    assert message in text, text
    assert (caught.value.item_id, caught.value.field) == (item, field)


def test_short_and_all_missing_series_go_to_the_baselines():
    demand, calendar = make_inputs()
    demand.loc[demand["item_id"] == "I0", "is_stockout"] = 1  # never observed
    short = (demand["item_id"] == "I1") & (demand["date"] <= CUTOFF - pd.Timedelta(days=10))
    demand = demand[~short]  # I1: ten days of history before the cutoff
    frames = frames_for(demand, calendar, min_history=14)
    assert set(frames.excluded) == {"I0", "I1"}
    assert "no demand observed" in frames.excluded["I0"]
    assert "fewer than the minimum 14" in frames.excluded["I1"]
    assert set(frames.context["item_id"]) == set(frames.future["item_id"]) == {"I2"}
    assert screen_series(frames.context, 14) == {}


def test_streaming_in_slices_matches_one_call_and_loses_no_item(pipeline, tmp_path):
    demand, calendar = make_inputs(n_items=5)
    demand.loc[demand["item_id"] == "I3", "is_stockout"] = 1
    items = sorted(demand["item_id"].unique())
    origins = [("forecast", CUTOFF), ("backtest", CUTOFF - pd.Timedelta(days=HORIZON))]

    def reader(chunk):
        return demand[demand["item_id"].isin(chunk)], calendar[calendar["item_id"].isin(chunk)]

    spec = StreamSpec(
        client_id="shop_a",
        as_of=CUTOFF,
        horizon=HORIZON,
        quantiles=QUANTILES,
        model_id="tiny",
        items=items,
        origins=origins,
        min_history=14,
    )

    def run(size, folder):
        folder.mkdir()
        return stream_forecasts(pipeline, replace(spec, chunk_items=size), reader, folder)

    sliced, whole = run(2, tmp_path / "sliced"), run(100, tmp_path / "whole")
    assert (len(sliced.files), len(whole.files)) == (3, 1)
    a = pl.read_parquet(sliced.files).sort("kind", "item_id", "date")
    b = pl.read_parquet(whole.files).sort("kind", "item_id", "date")
    np.testing.assert_allclose(a["q50"].to_numpy(), b["q50"].to_numpy(), rtol=1e-5)
    # Every item is forecast or excluded with its reason, from every origin.
    assert sliced.covered | set(sliced.excluded_items) == set(items)
    assert set(sliced.excluded_items) == {"I3"}
    assert sorted(a.filter(pl.col("kind") == "backtest")["cutoff"].unique().to_list()) == [
        (CUTOFF - pd.Timedelta(days=HORIZON)).date()
    ]
    assert sliced.exclusion_table().height == 2  # I3 from both origins
    assert sliced.problems == []
    assert a.filter(pl.col("kind") == "forecast").group_by("item_id").len()["len"].to_list() == [HORIZON] * 4


def test_stream_spec_is_frozen_and_freezes_the_lists_it_is_given():
    items, origins = ["I0", "I1"], [("forecast", CUTOFF)]
    spec = StreamSpec("shop_a", CUTOFF, HORIZON, [0.1, 0.9], "tiny", items=items, origins=origins)
    items.append("I2")
    origins.clear()
    assert (spec.items, spec.origins, spec.quantiles) == (("I0", "I1"), (("forecast", CUTOFF),), (0.1, 0.9))
    assert "I0" not in repr(spec)  # a client's item list stays out of logs
    with pytest.raises(FrozenInstanceError):
        spec.horizon = 7


def test_chronos_bolt_loads_through_the_base_pipeline_and_ignores_covariates(tmp_path, caplog):
    bolt = load_pipeline(str(save_tiny_chronos_bolt(tmp_path / "tiny-chronos-bolt")), "cpu", "float32")
    assert not supports_covariates(bolt) and model_name(bolt) == "chronos-bolt"
    demand, calendar = make_inputs()
    with caplog.at_level("INFO"):
        out = predict(bolt, frames_for(demand, calendar), CUTOFF, HORIZON, QUANTILES)
    assert "covariates" in caplog.text and "promo_flag" in caplog.text
    assert set(out["model"]) == {"chronos-bolt"}
    assert len(out) == 3 * HORIZON
    qs = out[[quantile_column(q) for q in QUANTILES]].to_numpy()
    assert (np.diff(qs, axis=1) >= 0).all() and (qs >= 0).all()


def test_every_origin_in_one_call_forecasts_as_one_call_per_origin_and_leaks_nothing(pipeline):
    """The stream sends a slice's origins through one predict_df call (each item and origin its
    own series): the same forecasts as one call per origin, and a backtest's forecast does not
    move when the data after its cutoff does, though a later origin in the same call sees it."""
    demand, calendar = make_inputs(n_items=4, days=150)
    earlier = CUTOFF - pd.Timedelta(days=21)
    cutoffs = [CUTOFF, earlier]

    def frames_at(data: pd.DataFrame) -> list[tuple[pd.Timestamp, object]]:
        return [(c, build_frames(data, calendar, c, HORIZON, client_id="shop_a")) for c in cutoffs]

    together = predict_origins(pipeline, frames_at(demand), HORIZON, QUANTILES)
    for (cutoff, frames), joint in zip(frames_at(demand), together, strict=True):
        alone = predict(pipeline, frames, cutoff, HORIZON, QUANTILES)
        pd.testing.assert_frame_equal(
            joint.reset_index(drop=True), alone.reset_index(drop=True), rtol=1e-4, atol=1e-4
        )
        assert (joint["step"] == (joint["date"] - cutoff).dt.days).all()
    tampered = demand.copy()
    tampered.loc[tampered["date"] > earlier, "units_sold"] *= 50
    moved = predict_origins(pipeline, frames_at(tampered), HORIZON, QUANTILES)
    pd.testing.assert_frame_equal(moved[1], together[1], rtol=1e-4, atol=1e-4)
    assert not np.allclose(moved[0]["point"], together[0]["point"])
    learned = predict_origins(pipeline, frames_at(demand), HORIZON, QUANTILES, cross_learning=True)
    learned_moved = predict_origins(pipeline, frames_at(tampered), HORIZON, QUANTILES, cross_learning=True)
    pd.testing.assert_frame_equal(learned[1], learned_moved[1], rtol=1e-4, atol=1e-4)
