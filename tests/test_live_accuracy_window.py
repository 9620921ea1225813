"""Live accuracy costs a horizon, not a history: each evaluation reads only the earlier origins
whose score can have changed since the previous one (a forecast date after it), one origin at a
time, on both backends, and the latest score of every origin is what scoring them all would give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from forecast_assets.core.evaluation.scoring import live_accuracy, live_accuracy_by_origin
from forecast_assets.defs.inputs import earlier_origins, load_earlier_forecasts, previous_evaluation
from forecast_assets.resources.warehouse import TableWrite, Warehouse

D0 = pd.Timestamp("2026-09-01")
HORIZON = 3
QUANTILES = (0.1, 0.5, 0.9)
TABLE = "ml.baseline_forecast"


def day(n: int) -> pd.Timestamp:
    return D0 + pd.Timedelta(days=n)


def _origin(as_of: pd.Timestamp, items: tuple[str, ...] = ("a", "b")) -> pl.DataFrame:
    """One origin's live forecast (HORIZON days per item) and a backtest that must never be read."""
    rows = []
    for kind, cutoff in (("forecast", as_of), ("backtest", as_of - pd.Timedelta(days=HORIZON))):
        for item in items:
            for step in range(1, HORIZON + 1):
                point = float(step + len(item) + as_of.day % 5)
                rows.append(
                    {
                        "as_of": as_of.date(),
                        "kind": kind,
                        "cutoff": cutoff.date(),
                        "model": "m",
                        "item_id": item,
                        "date": (cutoff + pd.Timedelta(days=step)).date(),
                        "step": step,
                        "point": point,
                        "q10": point - 1.0,
                        "q50": point,
                        "q90": point + 1.0,
                    }
                )
    return pl.DataFrame(rows)


def _store(warehouse: Warehouse, client: str, origins: list[int], table: str = TABLE) -> None:
    for n in origins:
        write = TableWrite(table, _origin(day(n)), {"as_of": day(n).date()})
        warehouse.replace_client_rows(client, [write])


def _read(frames) -> dict[str, int]:
    """Origin -> rows read; each frame read holds one origin."""
    read = {}
    for frame in frames:
        assert frame["as_of"].nunique() == 1
        read[str(frame["as_of"].iloc[0].date())] = len(frame)
    return read


@pytest.mark.parametrize(
    ("as_of", "since", "read"),
    [
        # No previous evaluation: every earlier origin, each up to as_of (2 items x elapsed days).
        (10, None, {"2026-09-01": 6, "2026-09-03": 6, "2026-09-06": 6, "2026-09-09": 4}),
        # A daily run: only the origin with a date on day 10.
        (10, 9, {"2026-09-09": 4}),
        # Six days since the last run: the origins with a date in days 5..10, whole up to as_of.
        (10, 4, {"2026-09-03": 6, "2026-09-06": 6, "2026-09-09": 4}),
        # An evaluation between two earlier ones (a backfill): the dates in (since, as_of] only.
        (5, 2, {"2026-09-01": 6, "2026-09-03": 6}),
        # Every stored horizon had elapsed by the previous evaluation: nothing to rescore.
        (12, 11, {}),
    ],
)
def test_an_evaluation_reads_the_origins_whose_score_can_have_changed(warehouse, as_of, since, read):
    _store(warehouse, "shop_a", [0, 2, 5, 8])
    _store(warehouse, "shop_b", [7, 8, 9])  # another client's origins are never read
    previous = None if since is None else day(since)
    origins = earlier_origins(warehouse, "shop_a", day(as_of), previous)
    found = list(load_earlier_forecasts(warehouse, "shop_a", day(as_of), origins))
    assert _read(found) == read
    assert [str(o.date()) for o in origins] == list(read)
    for frame in found:
        assert set(frame["kind"]) == {"forecast"} and (frame["date"] <= day(as_of)).all()


def test_every_forecast_table_is_bounded_alike(warehouse):
    _store(warehouse, "shop_a", [0, 8])
    _store(warehouse, "shop_a", [0, 8], table="ml.global_forecast")
    origins = earlier_origins(warehouse, "shop_a", day(10), day(9))
    found = load_earlier_forecasts(warehouse, "shop_a", day(10), origins)
    assert _read(found) == {"2026-09-09": 8}  # 4 rows from each table


def test_the_previous_evaluation_is_the_latest_one_before_as_of(warehouse):
    assert previous_evaluation(warehouse, "shop_a", day(10)) is None  # no table yet
    for client, n in (("shop_a", 3), ("shop_a", 7), ("shop_a", 12), ("shop_b", 9)):
        row = pl.DataFrame({"as_of": [day(n).date()], "model": ["m"], "is_champion": [False]})
        write = TableWrite("ml.forecast_evaluation", row, {"as_of": day(n).date()})
        warehouse.replace_client_rows(client, [write])
    assert previous_evaluation(warehouse, "shop_a", day(10)) == day(7)
    assert previous_evaluation(warehouse, "shop_a", day(7)) == day(3)  # a rerun of day 7
    assert previous_evaluation(warehouse, "shop_a", day(3)) is None
    assert previous_evaluation(warehouse, "shop_c", day(10)) is None


def test_the_latest_score_of_every_origin_equals_scoring_them_all(warehouse):
    """Daily evaluations with some days skipped: per origin, the row of the latest evaluation that
    scored it equals the score of a single evaluation that reads every origin."""
    rng = np.random.default_rng(0)
    dates = pd.date_range(day(-30), day(20))
    demand = pd.DataFrame(
        {
            "item_id": np.repeat(["a", "b"], len(dates)),
            "date": np.tile(dates, 2),
            "units_sold": rng.poisson(4.0, 2 * len(dates)).astype(float),
            "is_stockout": 0,
        }
    )
    origins = list(range(0, 15))
    _store(warehouse, "shop_a", origins)
    evaluations = [1, 2, 3, 4, 6, 9, 10, 11, 15, 16]
    since = None
    latest: list[pd.DataFrame] = []
    for n in evaluations:
        known = demand[demand["date"] <= day(n)]
        changed = earlier_origins(warehouse, "shop_a", day(n), since)
        earlier = load_earlier_forecasts(warehouse, "shop_a", day(n), changed)
        latest.append(live_accuracy_by_origin(earlier, known, QUANTILES).assign(evaluated=n))
        since = day(n)
    incremental = (
        pd.concat(latest)
        .sort_values("evaluated")
        .groupby(["as_of", "level", "model", "item_id", "step"], dropna=False)
        .tail(1)
    )
    final = day(evaluations[-1])
    every_origin = pd.concat(
        load_earlier_forecasts(warehouse, "shop_a", final, earlier_origins(warehouse, "shop_a", final))
    )
    everything = live_accuracy(every_origin, demand[demand["date"] <= final], QUANTILES)
    keys = ["as_of", "level", "model", "item_id", "step"]
    got = incremental.drop(columns="evaluated").sort_values(keys).reset_index(drop=True)
    want = everything.sort_values(keys).reset_index(drop=True)
    assert len(want) > 0 and set(got["as_of"]) == {day(n) for n in origins}
    pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False)
