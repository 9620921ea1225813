"""The global LightGBM model and the ensembles: no leakage past a cutoff, covariates reach the
model, sane quantiles, and ensembles that are exactly the median or mean of their members."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from forecast_assets.core.forecasting.baselines import item_slices
from forecast_assets.core.forecasting.ensemble import combine, ensemble_name, ensembles
from forecast_assets.core.forecasting.frame import DEFAULT_QUANTILES, forecast_problems, quantile_column
from forecast_assets.core.forecasting.global_model import (
    MODELS,
    ClientFrames,
    GlobalModelConfig,
    forecast_global_from_origins,
    global_spec,
    item_stats,
    origin_fingerprints,
    price_features,
    ray_threads,
    slices_of,
    training_frames,
)

HORIZON = 14
DAYS = 160
CONFIG = GlobalModelConfig(rounds=25, num_leaves=15, conformal_windows=2, n_jobs=1)


def _client(promo_item: str | None = None, promo_days: tuple[int, ...] = (), seed: int = 0):
    """Six items, weekly pattern, a promotion every 30 days (+150% demand) that the model can
    learn; ``promo_days`` adds promotions for ``promo_item`` (day index, horizon included)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2025-01-01", periods=DAYS + HORIZON, freq="D")
    demand, calendar = [], []
    for i in range(6):
        item = f"I{i}"
        promo = ((np.arange(len(dates)) % 30) < 4).astype(float)
        if item == promo_item:
            promo[list(promo_days)] = 1.0
        rate = (5 + 3 * i) * (1 + 0.3 * (dates.dayofweek >= 5)) * (1 + 1.5 * promo)
        sold = rng.poisson(rate).astype(float)
        demand.append(
            pd.DataFrame(
                {
                    "item_id": item,
                    "date": dates[:DAYS],
                    "units_sold": sold[:DAYS],
                    "price": 2.0,
                    "is_stockout": 0,
                }
            )
        )
        calendar.append(
            pd.DataFrame(
                {
                    "item_id": item,
                    "date": dates,
                    "promo_flag": promo,
                    "promo_discount": 0.2 * promo,
                    "is_holiday": 0,
                    "days_to_holiday": 30,
                    "is_weekend": (dates.dayofweek >= 5).astype(int),
                    "planned_price": 2.0 * (1 - 0.2 * promo),
                    "is_future": (np.arange(len(dates)) >= DAYS).astype(int),
                }
            )
        )
    return pd.concat(demand, ignore_index=True), pd.concat(calendar, ignore_index=True)


CATEGORIES = pd.Series({"I0": "food", "I1": "food", "I2": "home", "I3": "home", "I4": "toys", "I5": "toys"})


def _forecast(demand, calendar, cutoff, kind="backtest", config=CONFIG, result=False, log=None):
    as_of = demand["date"].max()
    fitted = forecast_global_from_origins(
        ClientFrames.of(demand, calendar), [(kind, cutoff)], as_of, HORIZON, DEFAULT_QUANTILES, config,
        client_id="shop", categories=CATEGORIES, log=log,
    )  # fmt: skip
    rows = fitted.rows.sort_values(["model", "item_id", "date"]).reset_index(drop=True)
    return (rows, fitted) if result else rows


def test_nothing_after_a_cutoff_reaches_its_features_or_forecast_and_a_change_before_does():
    demand, calendar = _client()
    cutoff = demand["date"].max() - pd.Timedelta(days=HORIZON)
    after = demand["date"] > cutoff
    changed = demand.copy()
    changed.loc[after, "units_sold"] *= 10
    changed.loc[after, "price"] = 99.0
    changed.loc[after & (changed["item_id"] == "I1"), "is_stockout"] = 1

    frames = [training_frames(d, calendar, cutoff, HORIZON, client_id="shop") for d in (demand, changed)]
    pd.testing.assert_frame_equal(frames[0][0], frames[1][0])
    pd.testing.assert_frame_equal(frames[0][1], frames[1][1])
    base = _forecast(demand, calendar, cutoff)
    pd.testing.assert_frame_equal(base, _forecast(changed, calendar, cutoff))

    control = demand.copy()
    control.loc[(control["date"] == cutoff) & (control["item_id"] == "I2"), "units_sold"] += 40
    moved = _forecast(control, calendar, cutoff)
    assert not np.allclose(moved["point"], base["point"]), "a change on the cutoff day must reach the model"


def test_a_future_promotion_raises_that_items_forecast():
    horizon_days = tuple(range(DAYS + 3, DAYS + 7))  # not on the usual 30-day promotion cycle
    plain, calendar = _client()
    _, promoted_calendar = _client(promo_item="I3", promo_days=horizon_days)
    as_of = plain["date"].max()
    base = _forecast(plain, calendar, as_of, kind="forecast")
    promo = _forecast(plain, promoted_calendar, as_of, kind="forecast")
    days = pd.date_range("2025-01-01", periods=DAYS + HORIZON, freq="D")[list(horizon_days)].date
    on = promo["item_id"].eq("I3") & promo["date"].isin(days)
    assert promo.loc[on, "point"].mean() > 1.3 * base.loc[on, "point"].mean()
    others = ~promo["item_id"].eq("I3")
    assert np.allclose(promo.loc[others, "point"], base.loc[others, "point"])


def test_quantiles_are_ordered_non_negative_and_cover_every_item_and_step():
    demand, calendar = _client()
    rows = _forecast(demand, calendar, demand["date"].max(), kind="forecast")
    assert set(rows["model"]) == set(MODELS)
    for _, member in rows.groupby("model"):
        assert forecast_problems(member, set(demand["item_id"]), HORIZON, DEFAULT_QUANTILES) == []
        assert (member["q90"] > member["q10"]).mean() > 0.9, "conformal intervals must have width"


def test_stock_out_days_are_imputed_for_lags_and_weighted_out_of_the_targets():
    demand, calendar = _client()
    out = demand["item_id"].eq("I0") & demand["date"].between("2025-03-01", "2025-03-07")
    demand.loc[out, ["units_sold", "is_stockout"]] = [0.0, 1]
    train, *_ = training_frames(demand, calendar, demand["date"].max(), HORIZON, client_id="shop")
    stocked_out = train["unique_id"].eq("I0") & train["ds"].between("2025-03-01", "2025-03-07")
    assert (train.loc[stocked_out, "weight"] == 0).all() and (train.loc[~stocked_out, "weight"] == 1).all()
    assert (train.loc[stocked_out, "y"] > 0).all(), "an empty shelf is not learned as zero demand"


def _member_rows() -> pd.DataFrame:
    qcols = [quantile_column(q) for q in DEFAULT_QUANTILES]
    rows = []
    for model, level in (("auto_ets", 10.0), ("auto_theta", 14.0), ("lightgbm", 30.0)):
        for item in ("A", "B"):
            row = {"as_of": "2026-01-31", "kind": "forecast", "cutoff": "2026-01-31", "model": model}
            row |= {"item_id": item, "date": "2026-02-01", "step": 1, "point": level}
            row |= {c: level + i for i, c in enumerate(qcols)}
            rows.append(row)
    frame = pd.DataFrame(rows)
    frame.loc[(frame["model"] == "lightgbm") & (frame["item_id"] == "A"), "q10"] = 100.0  # crosses
    return frame[~((frame["model"] == "auto_theta") & (frame["item_id"] == "B"))]


def test_the_ensemble_is_the_median_or_mean_of_its_members_re_sorted():
    rows = _member_rows()
    members = ["auto_ets", "auto_theta", "lightgbm"]
    median = combine(rows, members, "median", DEFAULT_QUANTILES)
    mean = combine(rows, members, "mean", DEFAULT_QUANTILES)
    assert list(median["item_id"]) == ["A"], "item B lacks a member: no row rather than a mislabelled one"
    assert median["model"].iloc[0] == "ensemble_median(auto_ets+auto_theta+lightgbm)"
    assert median["point"].iloc[0] == 14.0 and mean["point"].iloc[0] == pytest.approx(18.0)
    # q10 of the members: 10, 14, 100 -> median 14; q20: 11, 15, 31 -> 15 ... then sorted per row.
    qcols = [quantile_column(q) for q in DEFAULT_QUANTILES]
    assert list(median[qcols].iloc[0]) == sorted([14.0, 15, 16, 17, 18, 19, 20, 21, 22])
    assert mean["q10"].iloc[0] <= mean["q20"].iloc[0]
    assert mean[qcols].iloc[0].is_monotonic_increasing


def test_ensembles_use_only_members_that_forecast_and_need_two():
    rows = _member_rows()
    both = ensembles(rows, ["auto_ets", "lightgbm", "chronos-2"], DEFAULT_QUANTILES)
    assert set(both["model"]) == {ensemble_name(m, ["auto_ets", "lightgbm"]) for m in ("median", "mean")}
    assert set(both["item_id"]) == {"A", "B"}
    assert ensembles(rows, ["auto_ets", "chronos-2"], DEFAULT_QUANTILES).empty


def test_price_features_place_each_days_price_against_the_items_own_history():
    days = pd.date_range("2025-01-01", periods=30, freq="D")
    price = np.r_[np.full(20, 2.0), np.full(10, 1.0)]  # a price cut on day 20
    price[[3, 4]] = np.nan  # unlisted days carry the last known price
    train = pd.DataFrame({"unique_id": "A", "ds": days, "y": 1.0, "weight": 1.0, "price": price})
    future = pd.DataFrame({"unique_id": "A", "ds": pd.date_range("2025-01-31", periods=7, freq="D")})
    train_x, future_x = price_features(train, future)
    mean = (20 * 2.0 + 10 * 1.0) / 30
    assert "price" not in train_x.columns
    assert train_x.loc[3, "price_to_mean"] == pytest.approx(2.0 / mean)
    assert train_x.loc[20, "price_to_mean"] == pytest.approx(1.0 / mean)
    assert train_x.loc[20, "price_to_max"] == pytest.approx(0.5)
    assert train_x.loc[20, "price_change_7"] == pytest.approx(-0.5)
    assert train_x.loc[27, "price_change_7"] == pytest.approx(0.0)
    # The horizon carries the last price at the cutoff: a future price is not known.
    assert np.allclose(future_x["price_to_max"], 0.5)
    assert np.allclose(future_x["price_change_7"], 0.0)


def test_item_statistics_describe_the_last_year_of_in_stock_days_only():
    days = pd.date_range("2024-01-01", periods=500, freq="D")
    y = np.where(np.arange(500) < 135, 100.0, np.tile([0.0, 2.0], 250)[:500])
    weight = np.ones(500)
    weight[-10:] = 0.0  # stock-outs: left out of the statistics
    y[-10:] = 50.0
    train = pd.DataFrame({"unique_id": "A", "ds": days, "y": y, "weight": weight})
    stats = item_stats(train).iloc[0]
    recent = y[-365:-10]  # the last 365 days before the cutoff, in stock
    assert stats["level_365"] == pytest.approx(recent.mean())
    assert stats["zero_share_365"] == pytest.approx((recent == 0).mean())
    assert stats["cv_365"] == pytest.approx(recent.std(ddof=1) / recent.mean())


@pytest.mark.parametrize(
    ("items", "size", "expected"),
    [
        (["I0", "I1", "I2", "I3", "I4", "I5"], 6, [["I0", "I1", "I2", "I3", "I4", "I5"]]),
        (["I0", "I1", "I2", "I3", "I4", "I5"], 100, [["I0", "I1", "I2", "I3", "I4", "I5"]]),
        # by category (food: I0 I1, home: I2 I3, toys: I4 I5), then id; never a lone tail slice
        (["I5", "I3", "I1", "I4", "I2", "I0"], 2, [["I0", "I1"], ["I2", "I3"], ["I4", "I5"]]),
        (["I0", "I1", "I2", "I3", "I4", "I5"], 4, [["I0", "I1", "I2"], ["I3", "I4", "I5"]]),
        (["I0", "I1", "I2", "I3", "I4", "I5"], 5, [["I0", "I1", "I2"], ["I3", "I4", "I5"]]),
        (["X", "I4"], 1, [["X"], ["I4"]]),  # an item without a category sorts first
        ([], 3, []),
    ],
)
def test_slices_hold_related_items_in_slices_of_near_equal_size(items, size, expected):
    assert slices_of(items, CATEGORIES, size) == expected


def test_slices_refuse_an_empty_slice_size():
    with pytest.raises(ValueError, match="slice size"):
        slices_of(["I0"], CATEGORIES, 0)


def test_a_client_fitted_in_slices_is_each_slice_fitted_alone_and_every_item_forecast():
    """Slices are independent fits: an item's forecast depends on its own slice only, and a
    client split in slices still gets every item forecast by every member."""
    demand, calendar = _client()
    as_of = demand["date"].max()
    sliced = GlobalModelConfig(**{**CONFIG.__dict__, "slice_items": 2})
    lines: list[str] = []
    rows, fitted = _forecast(
        demand, calendar, as_of, kind="forecast", config=sliced, result=True, log=lines.append
    )
    assert [line.split(":")[0] for line in lines] == [
        f"global model (origin {as_of.date()}, slice {k}/3)" for k in (1, 2, 3)
    ]
    assert lines[-1].split(": ")[1].startswith("6/6 item fits (100%)")
    for _, member in rows.groupby("model"):
        assert forecast_problems(member, set(demand["item_id"]), HORIZON, DEFAULT_QUANTILES) == []
    home = ["I2", "I3"]
    alone = _forecast(demand[demand["item_id"].isin(home)], calendar[calendar["item_id"].isin(home)],
                      as_of, kind="forecast")  # fmt: skip
    in_client = rows[rows["item_id"].isin(home)].reset_index(drop=True)
    pd.testing.assert_frame_equal(in_client, alone)
    whole, whole_fit = _forecast(demand, calendar, as_of, kind="forecast", result=True)
    assert not np.allclose(whole.loc[whole["item_id"].isin(home), "point"], in_client["point"])
    assert fitted.fingerprints[as_of] != whole_fit.fingerprints[as_of], "another split, another fingerprint"
    assert set(fitted.importance["model"]) == set(MODELS)
    assert not fitted.importance.duplicated(["model", "feature"]).any(), "gains summed over slices"


def _as_delivered_on(
    demand: pd.DataFrame, calendar: pd.DataFrame, day: pd.Timestamp, list_price: float = 2.5
):
    """The client's demand and calendar as delivered on ``day`` (dbt's covariate_calendar): sales
    up to it, the calendar to the end of the horizon with the days after ``day`` still to come,
    and that day's list price (not the sales' 2.0) in the planned price."""
    cal = calendar[calendar["date"] <= day + pd.Timedelta(days=HORIZON)].copy()
    cal["is_future"] = (cal["date"] > day).astype(int)
    cal["planned_price"] = list_price * (1 - cal["promo_discount"])
    return demand[demand["date"] <= day], cal


@pytest.mark.parametrize("slice_items", [6, 2])
def test_a_live_forecast_is_read_back_as_the_backtest_of_a_later_run_from_that_day(slice_items):
    """The live forecast of a day, made on what was delivered by then, has the fingerprint a run
    ``horizon`` days later gives that day's backtest, though the later run's calendar has those
    days delivered and plans with prices re-based at the cutoff; so it is read back, not refit,
    and no frame is built for it."""
    demand, calendar = _client()
    cutoff = demand["date"].max() - pd.Timedelta(days=HORIZON)
    config = GlobalModelConfig(**{**CONFIG.__dict__, "slice_items": slice_items})
    _, live = _forecast(*_as_delivered_on(demand, calendar, cutoff), cutoff, kind="forecast", config=config,
                        result=True)  # fmt: skip
    asked: list[str] = []

    def reusable(kind: str, at: pd.Timestamp, fingerprint: str) -> bool:
        asked.append(fingerprint)
        return fingerprint == live.fingerprints[cutoff]

    later = forecast_global_from_origins(
        ClientFrames.of(demand, calendar), [("backtest", cutoff)], demand["date"].max(), HORIZON,
        DEFAULT_QUANTILES,
        config, client_id="shop", categories=CATEGORIES, reusable=reusable,
    )  # fmt: skip
    assert asked == [live.fingerprints[cutoff]]
    assert later.reused == [cutoff] and later.rows.empty and later.series_fit == 0


CUTOFF = pd.Timestamp("2025-01-01") + pd.Timedelta(days=DAYS - 1 - HORIZON)
HORIZON_END = CUTOFF + pd.Timedelta(days=HORIZON)
DAYS_CHANGED = {
    "after the cutoff": lambda day: day > CUTOFF,
    "on the cutoff": lambda day: day == CUTOFF,
    "99 days before it": lambda day: day == CUTOFF - pd.Timedelta(days=99),
    "on the horizon's last day": lambda day: day == HORIZON_END,
    "after the horizon": lambda day: day > HORIZON_END,
    "up to the horizon's end": lambda day: day <= HORIZON_END,
}


@pytest.mark.parametrize(
    ("frame", "column", "days", "refit"),
    [
        ("demand", "units_sold", "after the cutoff", False),
        ("demand", "units_sold", "on the cutoff", True),
        ("demand", "price", "99 days before it", True),
        ("calendar", "promo_discount", "on the horizon's last day", True),
        ("calendar", "promo_discount", "after the horizon", False),
        ("calendar", "is_holiday", "on the cutoff", True),
        ("calendar", "planned_price", "up to the horizon's end", False),  # re-based at a backtest's cutoff
        ("calendar", "is_future", "up to the horizon's end", False),  # days delivered since
        ("events", "event_snap", "on the horizon's last day", True),
        ("events", "event_snap", "after the horizon", False),
    ],
)
def test_an_origin_is_refit_when_what_it_is_built_from_changes(frame, column, days, refit):
    """An origin's fingerprint covers every input its frames are built from: the demand up to
    the cutoff, the calendar and the client's events to the end of its horizon, the items'
    categories; not what a later
    delivery restates about its planned prices."""
    demand, calendar = _client()
    spec = global_spec(CONFIG, HORIZON, DEFAULT_QUANTILES, 2 * HORIZON + 28)

    def fingerprint(inputs: dict[str, pd.DataFrame], categories: pd.Series = CATEGORIES) -> str:
        frames = ClientFrames.of(inputs["demand"], inputs["calendar"])
        return origin_fingerprints(frames, [CUTOFF], spec, HORIZON, inputs["events"], categories)[CUTOFF]

    events = pd.DataFrame({"date": calendar["date"].unique(), "event_snap": 0.0})
    inputs = {"demand": demand, "calendar": calendar, "events": events}
    changed = {**inputs, frame: inputs[frame].copy()}
    changed[frame].loc[DAYS_CHANGED[days](changed[frame]["date"]), column] += 1
    assert (fingerprint(changed) != fingerprint(inputs)) is refit
    shuffled = {name: rows.sample(frac=1.0, random_state=1) for name, rows in inputs.items()}
    assert fingerprint(shuffled) == fingerprint(inputs), "rows in any order"
    moved = CATEGORIES.copy()
    moved["I0"] = "home"
    assert fingerprint(inputs, moved) != fingerprint(inputs)


@pytest.mark.parametrize(("n_jobs", "threads"), [(-1, 1), (1, 1), (2, 2), (8, 8)])
def test_a_ray_task_fits_with_the_threads_it_reserves(n_jobs, threads):
    """-1 ("every core") would be the node's cores in every task on it: one thread instead."""
    assert ray_threads(n_jobs) == threads


def test_on_a_ray_cluster_every_slice_and_origin_is_fitted_as_locally():
    """RAY_ADDRESS reaches the global model: each (origin, slice) fit is a Ray task on a local
    2-CPU cluster with one LightGBM thread ("every core" would oversubscribe the node), and the
    rows, fingerprints and feature importance are a local one-thread fit's. A task asking for
    more CPUs than any node has is refused, not left waiting forever."""
    ray = pytest.importorskip("ray")
    demand, calendar = _client()
    as_of = demand["date"].max()
    origins = [("forecast", as_of), ("backtest", as_of - pd.Timedelta(days=HORIZON))]
    sliced = GlobalModelConfig(**{**CONFIG.__dict__, "slice_items": 2})

    def run(n_jobs: int, **engine):
        return forecast_global_from_origins(
            ClientFrames.of(demand, calendar), origins, as_of, HORIZON, DEFAULT_QUANTILES,
            replace(sliced, n_jobs=n_jobs),
            client_id="shop", categories=CATEGORIES, run_id="r", **engine,
        )  # fmt: skip

    local = run(1)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = run(-1, ray_address="local")
        with pytest.raises(ValueError, match="GLOBAL_MODEL_N_JOBS=3: no node"):
            run(3, ray_address="local")
    finally:
        ray.shutdown()
    order = ["kind", "cutoff", "model", "item_id", "date"]
    assert set(local.rows["kind"]) == {"forecast", "backtest"} and local.rows["item_id"].nunique() == 6
    pd.testing.assert_frame_equal(
        local.rows.sort_values(order, ignore_index=True), on_ray.rows.sort_values(order, ignore_index=True)
    )
    assert on_ray.config.n_jobs == 1 and on_ray.fingerprints == local.fingerprints
    assert run(2).fingerprints != local.fingerprints, "the thread count is part of the fingerprint"
    pd.testing.assert_frame_equal(on_ray.importance, local.importance)
    assert on_ray.series_fit == local.series_fit == 12


def test_with_a_sink_each_backtest_slice_leaves_as_it_is_fitted_and_the_result_keeps_the_live_origin():
    """What bounds the step's memory at a large client: the backtests' rows go out slice by slice
    (the asset spools them to Parquet), the same rows a run holding everything returns."""
    demand, calendar = _client()
    as_of = demand["date"].max()
    origins = [("forecast", as_of), *(("backtest", as_of - pd.Timedelta(days=d)) for d in (7, 14))]
    sliced = replace(CONFIG, slice_items=3)

    def run(sink=None):
        return forecast_global_from_origins(
            ClientFrames.of(demand, calendar),
            origins,
            as_of,
            HORIZON,
            DEFAULT_QUANTILES,
            sliced,
            client_id="shop",
            sink=sink,
        )

    whole = run()
    sunk: list[pd.DataFrame] = []
    streamed = run(sunk.append)
    assert len(sunk) == 2 * 2, "two backtest origins of two slices"
    assert all(part["kind"].eq("backtest").all() and part["cutoff"].nunique() == 1 for part in sunk)
    assert set(streamed.rows["kind"]) == {"forecast"}
    order = ["kind", "cutoff", "model", "item_id", "date"]
    back = pd.concat([streamed.rows, *sunk]).sort_values(order, ignore_index=True)
    pd.testing.assert_frame_equal(back, whole.rows.sort_values(order, ignore_index=True))
    assert streamed.fingerprints == whole.fingerprints


def test_the_step_reads_one_slice_at_a_time_and_forecasts_as_from_the_whole_client():
    """A 30,000-item client's demand and calendar do not fit the step's memory, so it reads its
    items a slice at a time (once to fingerprint, once to fit); the rows and fingerprints are
    those of a run over frames holding every item, and the fingerprint does not depend on how
    the items are sliced."""
    demand, calendar = _client()
    as_of = demand["date"].max()
    origins = [("forecast", as_of), ("backtest", as_of - pd.Timedelta(days=7))]
    whole_frames = ClientFrames.of(demand, calendar)
    asked: list[list[str]] = []

    def read(items: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        asked.append(list(items))
        return whole_frames.read(items)

    def run(frames: ClientFrames, slice_items: int):
        config = replace(CONFIG, slice_items=slice_items)
        return forecast_global_from_origins(
            frames,
            origins,
            as_of,
            HORIZON,
            DEFAULT_QUANTILES,
            config,
            client_id="shop",
            categories=CATEGORIES,
        )

    sliced = run(ClientFrames(whole_frames.items, read), slice_items=2)
    assert max(map(len, asked)) == 2, "never more than a slice"
    assert len(asked) == 2 * 3, "three slices, each read to fingerprint and once more for both origins"
    order = ["kind", "cutoff", "model", "item_id", "date"]
    with_every_item = run(whole_frames, slice_items=2)  # the same slices, cut from frames in memory
    pd.testing.assert_frame_equal(
        sliced.rows.sort_values(order, ignore_index=True),
        with_every_item.rows.sort_values(order, ignore_index=True),
    )
    spec = global_spec(CONFIG, HORIZON, DEFAULT_QUANTILES, 2 * HORIZON + 28)
    cutoffs = [c for _, c in origins]
    prints = {
        n: origin_fingerprints(
            whole_frames, cutoffs, spec, HORIZON, None, CATEGORIES, item_slices(whole_frames.items, n)
        )
        for n in (1, 2, 6)
    }
    assert (
        prints[1]
        == prints[2]
        == prints[6]
        == origin_fingerprints(whole_frames, cutoffs, spec, HORIZON, None, CATEGORIES)
    )
    changed = demand.copy()
    changed.loc[(changed["item_id"] == "I5") & (changed["date"] == cutoffs[1]), "units_sold"] += 1
    moved = origin_fingerprints(ClientFrames.of(changed, calendar), cutoffs, spec, HORIZON, None, CATEGORIES,
                                item_slices(whole_frames.items, 3))  # fmt: skip
    assert moved[cutoffs[1]] != prints[1][cutoffs[1]] and moved[cutoffs[0]] != prints[1][cutoffs[0]]
