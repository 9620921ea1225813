"""A backtest origin is fitted once: a later run reads back a forecast already made from the same
inputs, refits an origin whose inputs changed, and a reused forecast equals a refitted one."""

import datetime as dt

import pandas as pd
import polars as pl
import pytest
from dagster import AssetSelection, materialize

from forecast_assets.core.forecasting.reuse import (
    StoredOrigin,
    demand_fingerprints,
    frames_fingerprint,
    plan_origins,
)
from forecast_assets.definitions import build_assets, build_resource_defs
from forecast_assets.defs.inputs import AS_OF_OPS
from forecast_assets.defs.partitions import clients_partitions

from .backends import sql_rows
from .conftest import make_instance, make_settings

T = pd.Timestamp
ORIGINS = [("forecast", T("2026-10-31")), ("backtest", T("2026-10-03")), ("backtest", T("2026-09-26"))]
PRINTS = {T("2026-10-31"): "live", T("2026-10-03"): "a", T("2026-09-26"): "b"}


def stored(as_of: str, kind: str, cutoff: str, fingerprint: str) -> StoredOrigin:
    return StoredOrigin(T(as_of), kind, T(cutoff), fingerprint)


@pytest.mark.parametrize(
    ("stored_origins", "reuse", "fit", "reused_from"),
    [
        ([], True, ["2026-10-31", "2026-10-03", "2026-09-26"], {}),  # cold start: the full backtest
        (  # an earlier run's live forecast from the cutoff, same inputs: read back
            [stored("2026-10-03", "forecast", "2026-10-03", "a")],
            True,
            ["2026-10-31", "2026-09-26"],
            {"2026-10-03": "2026-10-03"},
        ),
        (  # the inputs up to the cutoff changed since (a restated history): refitted
            [stored("2026-10-03", "forecast", "2026-10-03", "changed")],
            True,
            ["2026-10-31", "2026-10-03", "2026-09-26"],
            {},
        ),
        (  # several runs forecast the cutoff from the same inputs: the latest one's rows
            [
                stored("2026-10-03", "forecast", "2026-10-03", "a"),
                stored("2026-10-24", "backtest", "2026-10-03", "a"),
            ],
            True,
            ["2026-10-31", "2026-09-26"],
            {"2026-10-03": "2026-10-24"},
        ),
        (  # a rerun of the same as_of reads its own backtests back; the live origin is refitted
            [
                stored("2026-10-31", "forecast", "2026-10-31", "live"),
                stored("2026-10-31", "backtest", "2026-09-26", "b"),
            ],
            True,
            ["2026-10-31", "2026-10-03"],
            {"2026-09-26": "2026-10-31"},
        ),
        (  # refit_backtests: everything is fitted
            [stored("2026-10-03", "forecast", "2026-10-03", "a")],
            False,
            ["2026-10-31", "2026-10-03", "2026-09-26"],
            {},
        ),
    ],
)
def test_which_origins_are_fitted_and_which_are_read_back(stored_origins, reuse, fit, reused_from):
    plan = plan_origins(ORIGINS, PRINTS, stored_origins, reuse=reuse)
    assert [str(c.date()) for _, c in plan.fit] == fit
    assert {str(c.date()): str(s.as_of.date()) for c, s in plan.reuse.items()} == reused_from


DAYS = pd.date_range("2026-09-01", periods=30)
DEMAND = pd.DataFrame({"item_id": ["a"] * 30 + ["b"] * 30, "date": list(DAYS) * 2, "units_sold": range(60)})
CUTOFF = T("2026-09-20")


def _on(frame: pd.DataFrame, item: str, day: str) -> pd.Series:
    return (frame["item_id"] == item) & (frame["date"] == T(day))


def _swap(frame: pd.DataFrame, one: pd.Series, other: pd.Series) -> pd.DataFrame:
    """The units sold of two rows exchanged: every total over them stays the same."""
    a, b = frame.loc[one, "units_sold"].item(), frame.loc[other, "units_sold"].item()
    frame.loc[one, "units_sold"], frame.loc[other, "units_sold"] = b, a
    return frame


def _add(frame: pd.DataFrame, mask, units: int) -> pd.DataFrame:
    frame.loc[mask(frame), "units_sold"] += units
    return frame


@pytest.mark.parametrize(
    ("change", "refits"),
    [
        (lambda f: _add(f, lambda f: f["date"] > CUTOFF, 1), False),  # every day after the cutoff
        (lambda f: f.sample(frac=1.0, random_state=0), False),  # the rows' order
        (lambda f: f[["units_sold", "date", "item_id"]], False),  # the columns' order
        (lambda f: _add(f, lambda f: _on(f, "b", "2026-09-03"), 1), True),  # one sale, long before
        (lambda f: _add(f, lambda f: _on(f, "a", "2026-09-20"), 1), True),  # one sale, on the cutoff
        (lambda f: _swap(f, _on(f, "a", "2026-09-05"), _on(f, "b", "2026-09-05")), True),  # two items' sales
        (
            lambda f: _swap(f, _on(f, "a", "2026-09-05"), _on(f, "a", "2026-09-06")),
            True,
        ),  # one item's two days
        (
            lambda f: _add(
                _add(f, lambda f: _on(f, "a", "2026-09-04"), 1), lambda f: _on(f, "b", "2026-09-04"), -1
            ),
            True,
        ),
        (lambda f: pd.concat([f, f.iloc[[3]]], ignore_index=True), True),  # a row delivered twice
        (lambda f: pd.concat([f, f.iloc[[3, 3]]], ignore_index=True), True),  # ... or three times
        (lambda f: f.drop(index=4), True),  # a row lost
        (lambda f: f.assign(date=f["date"].where(f.index != 4, T("2026-09-06"))), True),  # a sale's day
        (lambda f: f.assign(item_id=f["item_id"].where(f.index != 4, "c")), True),  # a sale's item
    ],
)
def test_a_fingerprint_sees_every_change_up_to_its_cutoff_and_none_after(change, refits):
    spec = {"model": "x"}
    base = demand_fingerprints(DEMAND, [CUTOFF], spec)[CUTOFF]
    changed = change(DEMAND.copy())
    assert (demand_fingerprints(changed, [CUTOFF], spec)[CUTOFF] != base) is refits
    assert (frames_fingerprint([changed[changed["date"] <= CUTOFF]], spec)
            != frames_fingerprint([DEMAND[DEMAND["date"] <= CUTOFF]], spec)) is refits  # fmt: skip


def test_a_fingerprint_depends_on_the_model_specification():
    assert demand_fingerprints(DEMAND, [CUTOFF], {"model": "x"}) != demand_fingerprints(
        DEMAND, [CUTOFF], {"model": "y"}
    )


REUSED = (
    "select source_table, kind, cast(cutoff as varchar), fitted, cast(reused_from_as_of as varchar) "
    "from ml.forecast_origins where client_id = 'shop_a' and as_of = ? order by 1, 3"
)
BACKTEST = (
    "select model, item_id, date, point, q10, q90 from {table} where client_id = 'shop_a' "
    "and as_of = ? and kind = 'backtest' and cutoff = ? order by 1, 2, 3"
)
LIVE = (
    "select model, item_id, date, point, q10, q90 from {table} where client_id = 'shop_a' "
    "and as_of = ? and kind = 'forecast' order by 1, 2, 3"
)
TABLES = ("ml.baseline_forecast", "ml.global_forecast")


def test_a_later_run_fits_only_what_it_cannot_read_back(tmp_path, landing):
    settings = make_settings(tmp_path, chronos_model_id="amazon/chronos-2")
    instance = make_instance(settings.home)
    instance.add_dynamic_partitions(clients_partitions.name, ["shop_a"])
    selection = AssetSelection.assets("baseline_forecast", "global_forecast").upstream()

    def run(as_of: str, refit: bool = False) -> None:
        config = {"as_of": as_of, "refit_backtests": refit}
        result = materialize(
            build_assets(),
            selection=selection,
            partition_key="shop_a",
            resources=build_resource_defs(settings),
            instance=instance,
            run_config={"ops": {op: {"config": config} for op in AS_OF_OPS if op in OPS}},
        )
        assert result.success

    def origins(as_of: str) -> list[tuple]:
        return [tuple(r) for r in sql_rows(settings.warehouse_url, REUSED, [dt.date.fromisoformat(as_of)])]

    def rows(sql: str, *params: str, table: str = "ml.baseline_forecast") -> list[tuple]:
        return sql_rows(
            settings.warehouse_url, sql.format(table=table), [dt.date.fromisoformat(p) for p in params]
        )

    # The live forecast from 2026-10-03, on what was delivered by then: the calendar's days after
    # it are still to come, and its planned prices are that day's list prices ...
    delivered = {name: (landing / "shop_a" / name).read_bytes() for name in ("sales.csv", "stock_levels.csv")}
    for name in delivered:
        pl.read_csv(landing / "shop_a" / name).filter(pl.col("date") <= "2026-10-03").write_csv(
            landing / "shop_a" / name
        )
    run("2026-10-03")
    for name, content in delivered.items():
        (landing / "shop_a" / name).write_bytes(content)
    run("2026-10-31")  # ... is every model's backtest from 2026-10-03 four weeks later (horizon 28)
    assert origins("2026-10-31") == [
        (table, *origin)
        for table in TABLES
        for origin in [
            ("backtest", "2026-09-19", True, None),
            ("backtest", "2026-09-26", True, None),
            ("backtest", "2026-10-03", False, "2026-10-03"),
            ("forecast", "2026-10-31", True, None),
        ]
    ]
    for table in TABLES:
        assert rows(BACKTEST, "2026-10-31", "2026-10-03", table=table) == rows(
            LIVE, "2026-10-03", table=table
        )

    # A late correction of one day's sales between two cutoffs: the cutoff after it is refitted,
    # the ones before it are read back from the previous run of the same as_of.
    sales = landing / "shop_a" / "sales.csv"
    frame = pl.read_csv(sales)
    restated = (pl.col("date") == "2026-09-30") & (pl.col("item_id") == frame["item_id"][0])
    bumped = pl.when(restated).then(pl.col("units_sold") + 50).otherwise("units_sold")
    frame.with_columns(bumped).write_csv(sales)
    run("2026-10-31")
    fitted = {(r[0], r[2]): r[3] for r in origins("2026-10-31")}
    for table in TABLES:
        assert fitted[(table, "2026-09-19")] is False and fitted[(table, "2026-09-26")] is False
        assert fitted[(table, "2026-10-03")] is True and fitted[(table, "2026-10-31")] is True
    reused = rows(BACKTEST, "2026-10-31", "2026-09-19")

    run("2026-10-31", refit=True)  # a refit from scratch gives the rows that were read back
    assert all(r[3] is True for r in origins("2026-10-31"))
    refitted = rows(BACKTEST, "2026-10-31", "2026-09-19")
    assert len(refitted) == len(reused) > 0
    for a, b in zip(reused, refitted, strict=True):
        assert a[:3] == b[:3]
        assert a[3:] == pytest.approx(b[3:], rel=1e-6, abs=1e-9)


OPS = ("baseline_forecast", "global_forecast")


def test_a_windowed_fingerprint_sees_its_window_only_so_a_bounded_read_reuses_an_earlier_origin():
    """The baselines' fingerprint of a cutoff hashes the days their window reads: a later run
    reading only from its own earliest window gets the earlier run's fingerprint for that cutoff,
    and a change before the window (which no fit sees) refits nothing."""
    dates = pd.date_range("2026-08-01", periods=60)
    demand = pd.DataFrame(
        {"item_id": ["a"] * 60 + ["b"] * 60, "date": list(dates) * 2, "units_sold": range(120)}
    )
    cutoff, window, spec = T("2026-09-20"), 14, {"model": "x"}
    base = demand_fingerprints(demand, [cutoff], spec, window_days=window)[cutoff]
    later_read = demand[demand["date"] > cutoff - pd.Timedelta(days=window)]
    assert demand_fingerprints(later_read, [cutoff], spec, window_days=window)[cutoff] == base
    old = demand.copy()
    old.loc[old["date"] <= cutoff - pd.Timedelta(days=window), "units_sold"] += 1
    assert demand_fingerprints(old, [cutoff], spec, window_days=window)[cutoff] == base
    first_day = demand.copy()
    first_day.loc[first_day["date"] == cutoff - pd.Timedelta(days=window - 1), "units_sold"] += 1
    assert demand_fingerprints(first_day, [cutoff], spec, window_days=window)[cutoff] != base
    assert demand_fingerprints(demand, [cutoff], spec)[cutoff] != base  # 0: the whole prefix
