"""The global model's weekly training and conformal calibration: made on a weekly grid, stored,
and read back by the next days' runs instead of refitted, with the same intervals as mlforecast's
own calibration and the same forecasts as members trained in the run."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pandas as pd
import pytest
from dagster import AssetSelection, materialize
from mlforecast.utils import PredictionIntervals

from forecast_assets.core.forecasting.baselines import levels_for
from forecast_assets.core.forecasting.frame import DEFAULT_QUANTILES
from forecast_assets.core.forecasting.global_model import (
    ITEM_STATS,
    MODELS,
    STATIC,
    Calibration,
    ClientFrames,
    _category_codes,
    _forecaster,
    calibration_date,
    calibration_rows,
    calibration_scores,
    conformity_scores,
    fit_predict,
    forecast_global_from_origins,
    member_rows,
    stored_calibration,
    stored_members,
    train_members,
    training_frames,
)
from forecast_assets.definitions import build_assets, build_resource_defs
from forecast_assets.defs.partitions import clients_partitions

from .backends import sql_rows
from .conftest import make_instance, make_settings
from .test_global_model import CATEGORIES, CONFIG, HORIZON, _client

WEEKLY = replace(CONFIG, calibration_days=7, training="grid")  # members trained on the grid too
ORDER = ["kind", "cutoff", "model", "item_id", "date"]


@pytest.mark.parametrize(
    ("cutoff", "every_days", "expected"),
    [
        ("2000-01-03", 7, "2000-01-02"),  # the day after the epoch, a grid day
        ("2000-01-09", 7, "2000-01-02"),  # the next grid day still reads the week before's
        ("2000-01-10", 7, "2000-01-09"),  # the day after it moves on
        ("2026-12-04", 7, "2026-11-29"),  # a Friday: the Sunday before
        ("2026-12-06", 7, "2026-11-29"),  # a Sunday: the Sunday a week before
        ("1999-12-31", 7, "1999-12-26"),  # before the epoch, the same grid
        ("2026-12-04", 2, "2026-12-03"),  # a two-day grid
        ("2026-12-05", 2, "2026-12-03"),
        ("2026-12-04", 1, "2026-12-04"),  # every day: the cutoff itself
    ],
)
def test_an_origin_is_calibrated_on_the_last_grid_day_before_its_cutoff(cutoff, every_days, expected):
    assert calibration_date(pd.Timestamp(cutoff), every_days) == pd.Timestamp(expected)


def test_a_calibration_interval_of_less_than_a_day_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        calibration_date(pd.Timestamp("2026-12-04"), 0)


def test_intervals_from_a_calibration_made_apart_are_mlforecasts_own():
    """Calibrating apart (to store it) and attaching it changes nothing: with no stock-out day
    (where the calibration now learns with the forecast's sample weights) the quantiles are
    those of mlforecast's fit(prediction_intervals=...)."""
    demand, calendar = _client()
    as_of = demand["date"].max()
    train, future, *_ = training_frames(demand, calendar, as_of, HORIZON, client_id="shop")
    scores = conformity_scores(train, HORIZON, CONFIG)
    ours, *_ = fit_predict(train, future, HORIZON, DEFAULT_QUANTILES, CONFIG, scores)
    for name in MODELS:
        native = _forecaster(CONFIG, name)
        native.fit(
            _category_codes(train), static_features=[STATIC, *ITEM_STATS], dropna=False, weight_col="weight",
            prediction_intervals=PredictionIntervals(n_windows=CONFIG.conformal_windows, h=HORIZON),
        )  # fmt: skip
        raw = native.predict(HORIZON, X_df=future, level=levels_for(DEFAULT_QUANTILES))
        lows = [c for c in raw.columns if "-lo-" in c]
        assert lows, "mlforecast must have given intervals"
        ours_sorted = ours[name].sort_values(["item_id", "date"], ignore_index=True)
        raw = raw.sort_values(["unique_id", "ds"], ignore_index=True)
        assert (ours_sorted["point"].to_numpy() == raw[name].to_numpy()).all()
        assert ours_sorted["q10"].to_numpy() == pytest.approx(raw[f"{name}-lo-80"].to_numpy())
        assert ours_sorted["q90"].to_numpy() == pytest.approx(raw[f"{name}-hi-80"].to_numpy())


def test_members_stored_as_text_forecast_as_the_members_fitted_in_the_run():
    """The members a run stores (LightGBM's text format) and a later run reads back forecast what
    the fitted models forecast: only the features are built again, from the same frame."""
    demand, calendar = _client()
    as_of = demand["date"].max()
    train, future, *_ = training_frames(demand, calendar, as_of, HORIZON, client_id="shop")
    scores = conformity_scores(train, HORIZON, CONFIG)
    fitted, fitted_gain, *_ = fit_predict(train, future, HORIZON, DEFAULT_QUANTILES, CONFIG, scores)
    members = train_members(train, CONFIG)
    assert set(members) == set(MODELS) and all(isinstance(text, str) for text in members.values())
    read, read_gain, *_ = fit_predict(train, future, HORIZON, DEFAULT_QUANTILES, CONFIG, scores, members)
    for name in MODELS:
        pd.testing.assert_frame_equal(read[name], fitted[name])
    pd.testing.assert_frame_equal(read_gain, fitted_gain)


def _stored() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two items' scores (two windows of two days, every member) and their stored rows."""
    days = {"cutoff": pd.to_datetime(["2026-10-04"] * 2 + ["2026-10-11"] * 2),
            "ds": pd.to_datetime(["2026-10-05", "2026-10-06", "2026-10-12", "2026-10-13"])}  # fmt: skip
    scores = pd.concat([pd.DataFrame({"unique_id": item, **days}) for item in ("A", "B")], ignore_index=True)
    scores = scores.assign(**{m: scores.index * 10.0 + i for i, m in enumerate(MODELS)})
    return scores, calibration_rows(Calibration(pd.Timestamp("2026-10-25"), "fp1", scores))


def test_stored_calibration_rows_read_back_as_the_scores_they_were():
    scores, rows = _stored()
    back = calibration_scores(rows.sample(frac=1, random_state=0))
    back = back.sort_values(["unique_id", "cutoff", "ds"], ignore_index=True)
    pd.testing.assert_frame_equal(back, scores[back.columns], check_dtype=False)


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda r: pd.concat([r, r.iloc[:1]]), "stored twice"),
        (lambda r: r[r["model"] != next(iter(MODELS))], "members"),
        (lambda r: r.assign(score=r["score"].where(r.index != 3)), "score is missing"),
        (lambda r: r[(r["item_id"] != "B") | (r["date"] != r["date"].max())], "lacks some"),
        (lambda r: r.iloc[:0], "members"),
    ],
)
def test_damaged_stored_calibration_rows_are_an_error_naming_the_fingerprint(damage, problem):
    """mlforecast would reshape wrong scores without a word; a damaged store must not reach it."""
    with pytest.raises(ValueError, match=problem) as raised:
        calibration_scores(damage(_stored()[1]))
    assert "fingerprint" in str(raised.value)


def _members(fingerprint: str = "fp1") -> pd.DataFrame:
    """The stored rows of two real (tiny) members."""
    demand, calendar = _client()
    train, *_ = training_frames(demand, calendar, demand["date"].max(), HORIZON, client_id="shop")
    members = train_members(train, replace(CONFIG, rounds=2))
    return member_rows(Calibration(pd.Timestamp("2026-10-25"), fingerprint, _stored()[0], members=members))


def test_stored_member_rows_read_back_as_the_boosters_they_were():
    rows = _members()
    expected = dict(zip(rows["model"], rows["booster"], strict=True))
    assert stored_members(rows.sample(frac=1, random_state=0)) == expected
    assert stored_members(rows.iloc[:0]) == {}, "none stored: trained at the origin, so trained again"


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda r: pd.concat([r, r.iloc[:1]]), "stored twice"),
        (lambda r: r.iloc[1:], "members"),
        (lambda r: r.assign(model=r["model"].str.upper()), "members"),
        (lambda r: r.assign(booster=r["booster"].str.slice(0, 200)), "cannot be read"),
        (lambda r: r.assign(booster=None), "cannot be read"),
    ],
)
def test_damaged_stored_members_are_an_error_naming_the_fingerprint(damage, problem):
    """A truncated booster must not reach a forecast: LightGBM would fail the run, or worse."""
    with pytest.raises(ValueError, match=problem) as raised:
        stored_members(damage(_members()))
    assert "fingerprint fp1" in str(raised.value)


def test_the_step_reads_a_stored_calibration_back_and_takes_vanished_or_damaged_rows_as_none(warehouse):
    """What ``global_forecast`` reads: its own client's rows by fingerprint; rows another run has
    replaced since the step began, or that fail the checks (with a warning), mean calibrating
    again, not a failed run."""
    from forecast_assets.core.forecasting.global_model import GlobalResult
    from forecast_assets.defs.forecasting import _calibration_writes
    from forecast_assets.defs.inputs import calibration_lookup

    scores, _ = _stored()
    as_of = pd.Timestamp("2026-10-27")

    members = stored_members(_members())

    def store(client: str, fingerprint: str, frame: pd.DataFrame, trained: dict[str, str]) -> None:
        result = GlobalResult(rows=pd.DataFrame(), importance=pd.DataFrame())
        result.calibrations = [Calibration(pd.Timestamp("2026-10-25"), fingerprint, frame, members=trained)]
        warehouse.replace_client_rows(client, _calibration_writes(result, as_of))

    assert calibration_lookup(warehouse, "shop")("fp1") is None  # no table yet
    store("shop", "fp1", scores, members)
    warned: list[str] = []
    lookup = calibration_lookup(warehouse, "shop", warned.append)
    calibration = lookup("fp1")
    assert calibration.reused and calibration.calibrated_at == pd.Timestamp("2026-10-25")
    assert calibration.members == members, "the boosters come back byte for byte"
    back = calibration.scores.sort_values(["unique_id", "cutoff", "ds"], ignore_index=True)
    pd.testing.assert_frame_equal(back, scores[back.columns], check_dtype=False)
    assert lookup("fp2") is None
    assert calibration_lookup(warehouse, "other_shop")("fp1") is None, "another client's rows are not read"

    store("shop", "fp1", scores, {})  # calibrated at its origin: no members, errors still good
    assert calibration_lookup(warehouse, "shop")("fp1").members == {}
    store("shop", "fp1", pd.concat([scores, scores]), members)  # damaged: every score twice
    assert lookup("fp1") is None and len(warned) == 1 and "stored twice" in warned[0]
    store("shop", "fp1", scores, {name: "not a tree" for name in members})  # damaged boosters
    assert lookup("fp1") is None and len(warned) == 2 and "cannot be read" in warned[1]
    store("shop", "fp3", scores, members)  # another run replaced the client's calibration
    assert lookup("fp1") is None and len(warned) == 2


class Store:
    """What ``ml.global_calibration`` and ``ml.global_members`` do for the asset: rows by
    fingerprint, read back."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
        self.asked: list[str] = []

    def keep(self, result) -> None:
        self.rows.update({c.fingerprint: (calibration_rows(c), member_rows(c)) for c in result.calibrations})

    def lookup(self, fingerprint: str) -> Calibration | None:
        self.asked.append(fingerprint)
        if fingerprint not in self.rows:
            return None
        return stored_calibration(*self.rows[fingerprint])


def _live(demand, calendar, as_of, config=WEEKLY, store: Store | None = None):
    return forecast_global_from_origins(
        ClientFrames.of(demand[demand["date"] <= as_of], calendar), [("forecast", as_of)], as_of, HORIZON,
        DEFAULT_QUANTILES,
        config, client_id="shop", categories=CATEGORIES, calibration_lookup=store.lookup if store else None,
    )  # fmt: skip


def _rows(result) -> pd.DataFrame:
    return result.rows.drop(columns=["as_of", "cutoff"]).sort_values(ORDER[2:], ignore_index=True)


@pytest.mark.parametrize("slice_items", [6, 3])
def test_the_next_days_run_reads_the_weeks_calibration_back_and_forecasts_as_if_it_had_fitted_it(slice_items):
    demand, calendar = _client()
    config = replace(WEEKLY, slice_items=slice_items)
    monday = pd.Timestamp("2025-05-26")  # grid day Sunday 2025-05-25: both runs share it
    store = Store()
    first = _live(demand, calendar, monday, config, store)
    slices = 6 // slice_items
    assert len(first.calibrations) == slices and first.calibrations_reused == 0
    assert {c.calibrated_at for c in first.calibrations} == {pd.Timestamp("2025-05-25")}
    assert first.calibration_seconds > 0
    store.keep(first)

    tuesday = monday + pd.Timedelta(days=1)
    reused = _live(demand, calendar, tuesday, config, store)
    fitted = _live(demand, calendar, tuesday, config)
    assert reused.calibrations_reused == slices and reused.calibration_seconds == 0
    assert fitted.calibrations_reused == 0 and fitted.calibration_seconds > 0
    assert all(c.members for c in reused.calibrations), "the grid day's members, read back"
    assert reused.fit_seconds < fitted.fit_seconds, "nothing trained: features and predict only"
    pd.testing.assert_frame_equal(_rows(reused), _rows(fitted))
    assert reused.fingerprints == fitted.fingerprints


def test_a_day_after_the_grid_day_reaches_the_forecast_through_its_features_not_its_trees():
    """Tuesday's run reads the members trained on Sunday's data, but its lags see Monday: a sale
    restated on Monday moves Tuesday's forecast while the stored members are still the ones used."""
    demand, calendar = _client()
    monday = pd.Timestamp("2025-05-26")
    store = Store()
    store.keep(_live(demand, calendar, monday, store=store))
    tuesday = monday + pd.Timedelta(days=1)
    before = _live(demand, calendar, tuesday, store=store)
    restated = demand.copy()
    restated.loc[restated["date"].eq(monday) & restated["item_id"].eq("I1"), "units_sold"] += 40
    after = _live(restated, calendar, tuesday, store=store)
    assert before.calibrations_reused == after.calibrations_reused == 1
    assert after.calibrations[0].members == before.calibrations[0].members
    moved = _rows(after)["point"].to_numpy() != _rows(before)["point"].to_numpy()
    assert set(_rows(after).loc[moved, "item_id"]) == {"I1"}, "the restated item's forecast, only"


def test_by_default_the_members_train_at_the_origin_and_only_the_calibration_is_weekly():
    """``GLOBAL_MODEL_TRAINING=origin``: Tuesday reads Monday's calibration back, stores no member,
    and forecasts the points of a model trained at the origin (those of a daily calibration)."""
    demand, calendar = _client()
    monday = pd.Timestamp("2025-05-26")
    weekly = replace(WEEKLY, training="origin")
    store = Store()
    first = _live(demand, calendar, monday, weekly, store)
    assert [c.members for c in first.calibrations] == [{}]
    store.keep(first)
    tuesday = monday + pd.Timedelta(days=1)
    reused = _live(demand, calendar, tuesday, weekly, store)
    daily = _live(demand, calendar, tuesday, replace(weekly, calibration_days=1))
    grid = _live(demand, calendar, tuesday, WEEKLY)
    assert reused.calibrations_reused == 1 and reused.calibrations[0].members == {}
    points = [_rows(r)["point"].to_numpy() for r in (reused, daily, grid)]
    assert (points[0] == points[1]).all(), "trained at the origin: a daily calibration's points"
    assert (points[0] != points[2]).any(), "the grid's trees are another week's"


def test_a_daily_schedule_calibrates_once_a_week():
    """Eight daily runs, Monday to Monday, each with the calendar as delivered that day (days after
    ``as_of`` are future) and a plan whose list price is not the price sold at, so a day's frame
    seen from a later day (planned price re-based) differs from the one that day's run built.
    Monday calibrates on Sunday's data; Tuesday to Sunday read it back (Sunday, a grid day, reads
    the week before's); the next Monday makes the next week's."""
    demand, calendar = _client()
    calendar["planned_price"] = 2.5 * (1 - calendar["promo_discount"])
    store = Store()
    reused, calibrated_at, trained = [], [], []
    for day in pd.date_range("2025-05-26", periods=8):
        delivered = calendar.assign(is_future=(calendar["date"] > day).astype(int))
        result = _live(demand, delivered, day, store=store)
        reused.append(result.calibrations_reused)
        calibrated_at.append(result.calibrations[0].calibrated_at.date())
        trained.append(all(c.members and not c.reused for c in result.calibrations))
        store.keep(result)
    assert reused == [0, 1, 1, 1, 1, 1, 1, 0]
    assert calibrated_at == [dt.date(2025, 5, 25)] * 7 + [dt.date(2025, 6, 1)]
    assert trained == [True, False, False, False, False, False, False, True], "members trained weekly"


def test_a_restated_day_before_the_calibration_day_is_calibrated_again():
    demand, calendar = _client()
    monday = pd.Timestamp("2025-05-26")
    store = Store()
    store.keep(_live(demand, calendar, monday, store=store))
    restated = demand.copy()
    restated.loc[restated["date"] == pd.Timestamp("2025-05-20"), "units_sold"] += 5
    again = _live(restated, calendar, monday + pd.Timedelta(days=1), store=store)
    assert again.calibrations_reused == 0 and again.calibration_seconds > 0


def test_a_slice_whose_items_changed_since_the_calibration_day_is_calibrated_at_its_cutoff():
    """An item that reached the history it needs after the grid day has no errors of its own
    there: its slice is calibrated at the cutoff (mlforecast needs every item's own errors)."""
    demand, calendar = _client()
    monday = pd.Timestamp("2025-05-26")
    first_day = demand["date"].min()
    # I5's history starts so that it has exactly the days it needs on Monday, not on Sunday.
    needed = max(14, 2 * HORIZON + 28)
    late = demand["item_id"].eq("I5") & (demand["date"] <= monday - pd.Timedelta(days=needed))
    demand = demand[~late]
    assert demand.loc[demand["item_id"].eq("I5"), "date"].min() > first_day
    result = _live(demand, calendar, monday)
    assert [c.calibrated_at for c in result.calibrations] == [monday]
    assert result.rows["item_id"].nunique() == 6


CALIBRATIONS = (
    "select calibrated_at, count(distinct fingerprint), count(*) from ml.global_calibration "
    "where client_id = ? group by 1 order by 1"
)
MEMBERS = "select calibrated_at, model, md5(booster) from ml.global_members where client_id = ? order by 1, 2"
LIVE = (
    "select model, item_id, date, q10, point, q90 from ml.global_forecast "
    "where client_id = 'shop_a' and as_of = ? and kind = 'forecast' order by 1, 2, 3"
)


def test_a_daily_run_reads_the_stored_weekly_calibration_and_serves_what_a_refit_would(tmp_path, landing):
    """Monday's run stores its calibration and members (made on Sunday's data); Tuesday's reads
    them back, trains nothing and serves the quantiles a run that refits everything serves. The
    tables hold the client's latest calibration only, so they do not grow with runs."""
    settings = make_settings(tmp_path, chronos_model_id="amazon/chronos-2", global_model_training="grid")
    instance = make_instance(settings.home)
    instance.add_dynamic_partitions(clients_partitions.name, ["shop_a"])
    selection = AssetSelection.assets("global_forecast").upstream()

    def run(as_of: str, refit: bool = False) -> dict:
        config = {"ops": {"global_forecast": {"config": {"as_of": as_of, "refit_backtests": refit}}}}
        result = materialize(
            build_assets(), selection=selection, partition_key="shop_a", run_config=config,
            resources=build_resource_defs(settings), instance=instance,
        )  # fmt: skip
        assert result.success
        return result.asset_materializations_for_node("global_forecast")[0].metadata

    def rows(sql: str, *params: object) -> list[tuple]:
        return sql_rows(settings.warehouse_url, sql, list(params))

    monday, tuesday = dt.date(2026, 10, 26), dt.date(2026, 10, 27)
    assert run(monday.isoformat())["calibrations_reused"].value == "0/1"
    stored = rows(CALIBRATIONS, "shop_a")
    assert [r[:2] for r in stored] == [(dt.date(2026, 10, 25), 1)] and stored[0][2] > 0
    members = rows(MEMBERS, "shop_a")
    assert [r[:2] for r in members] == [(dt.date(2026, 10, 25), m) for m in sorted(MODELS)]

    assert run(tuesday.isoformat())["calibrations_reused"].value == "1/1"
    assert rows(CALIBRATIONS, "shop_a") == stored, "read back, not written again"
    assert rows(MEMBERS, "shop_a") == members
    served = rows(LIVE, tuesday)

    assert run(tuesday.isoformat(), refit=True)["calibrations_reused"].value == "0/1"
    refitted = rows(LIVE, tuesday)
    assert len(served) == len(refitted) > 0
    for a, b in zip(served, refitted, strict=True):
        assert a[:3] == b[:3]
        assert a[3:] == pytest.approx(b[3:], rel=1e-6, abs=1e-9)
    assert rows(CALIBRATIONS, "shop_a") == stored, "a refit of the same data stores the same calibration"
    assert rows(MEMBERS, "shop_a") == members, "and the same members, to the byte"


def test_slices_calibrated_on_the_grid_day_and_at_their_cutoff_are_written_together():
    """A client whose slices took both paths (one gained an item since the grid day) stores both
    calibrations in one write, whatever the timestamp units of the two days."""
    from forecast_assets.core.forecasting.global_model import Calibration, GlobalResult
    from forecast_assets.defs.forecasting import _calibration_writes

    as_of = pd.Timestamp(dt.date(2026, 10, 27))  # as resolve_as_of builds it
    one = {"unique_id": ["A"], "ds": [as_of], "cutoff": [as_of]}
    scores = pd.DataFrame({**one, **{m: [1.0] for m in MODELS}})
    result = GlobalResult(rows=pd.DataFrame(), importance=pd.DataFrame())
    result.calibrations = [
        Calibration(calibration_date(as_of, 7), "grid", scores),
        Calibration(calibration_date(as_of, 1), "cutoff", scores.assign(unique_id="B")),
    ]
    write, members = _calibration_writes(result, as_of)
    assert write.frame.height == 2 * len(MODELS)
    assert sorted(write.frame["calibrated_at"].unique().to_list()) == [dt.date(2026, 10, 25), as_of.date()]
    assert members.table == "ml.global_members" and members.frame.height == 0, "neither slice has members"
    assert set(members.frame.columns) >= {"model", "booster", "fingerprint", "calibrated_at", "as_of"}
