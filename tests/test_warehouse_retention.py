"""Storage that does not grow without bound, on both backends: backtest rows older than the
retention are deleted in the write's own transaction (one client's, backtests only), and on
Postgres the forecast and evaluation tables carry a (client_id, as_of) index."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from forecast_assets.resources.warehouse import TableWrite, Warehouse
from forecast_assets.resources.warehouse_postgres import client_as_of_index

TABLE = "ml.baseline_forecast"
D0 = dt.date(2026, 9, 1)


def _origin(as_of: dt.date) -> pl.DataFrame:
    """A forecast row and two backtest rows from one origin."""
    return pl.DataFrame(
        {
            "as_of": [as_of] * 3,
            "kind": ["forecast", "backtest", "backtest"],
            "cutoff": [as_of, as_of - dt.timedelta(days=28), as_of - dt.timedelta(days=35)],
            "item_id": ["a", "a", "a"],
            "point": [1.0, 2.0, 3.0],
        }
    )


def _write(warehouse: Warehouse, client: str, as_of: dt.date, retention: int | None = None) -> None:
    write = TableWrite(TABLE, _origin(as_of), {"as_of": as_of}, backtest_retention_days=retention)
    warehouse.replace_client_rows(client, [write])


def _kinds(warehouse: Warehouse, client: str) -> list[tuple[dt.date, str, int]]:
    rows = warehouse.query(
        f"select as_of, kind, count(*) as n from {TABLE} where client_id = ? "
        "group by as_of, kind order by as_of, kind",
        [client],
    )
    return [(r["as_of"], r["kind"], r["n"]) for r in rows.to_dicts()]


def test_retention_deletes_only_old_backtests_of_the_writing_client(warehouse):
    d20, d40 = D0 + dt.timedelta(days=20), D0 + dt.timedelta(days=40)
    _write(warehouse, "shop_b", D0)
    _write(warehouse, "shop_a", D0)
    _write(warehouse, "shop_a", d20)
    _write(warehouse, "shop_a", d40, retention=30)  # expires as_of before D0 + 10
    assert _kinds(warehouse, "shop_a") == [
        (D0, "forecast", 1),  # forecasts stay: live accuracy scores them against later actuals
        (d20, "backtest", 2),
        (d20, "forecast", 1),
        (d40, "backtest", 2),
        (d40, "forecast", 1),
    ]
    assert _kinds(warehouse, "shop_b") == [(D0, "backtest", 2), (D0, "forecast", 1)]
    _write(warehouse, "shop_a", d40, retention=0)  # only the new origin's backtests are left
    assert [k for k in _kinds(warehouse, "shop_a") if k[1] == "backtest"] == [(d40, "backtest", 2)]


def test_without_retention_every_origin_is_kept(warehouse):
    for days in (0, 100, 200):
        _write(warehouse, "shop_a", D0 + dt.timedelta(days=days))
    assert len([k for k in _kinds(warehouse, "shop_a") if k[1] == "backtest"]) == 3


def test_retention_is_undone_with_a_failed_write(warehouse):
    """The delete belongs to the write's transaction: a later table failing keeps the old rows."""
    _write(warehouse, "shop_a", D0)
    warehouse.replace_client_rows("shop_a", [TableWrite("ml.other", pl.DataFrame({"x": [1.0]}))])
    later = D0 + dt.timedelta(days=60)
    writes = [
        TableWrite(TABLE, _origin(later), {"as_of": later}, backtest_retention_days=7),
        TableWrite("ml.other", pl.DataFrame({"x": ["not a number"]})),
    ]
    with pytest.raises(Exception):  # noqa: B017 - each backend raises its own conversion error
        warehouse.replace_client_rows("shop_a", writes)
    assert _kinds(warehouse, "shop_a") == [(D0, "backtest", 2), (D0, "forecast", 1)]


def test_retention_needs_a_write_scoped_by_as_of():
    with pytest.raises(ValueError, match="scoped by as_of"):
        TableWrite(TABLE, _origin(D0), backtest_retention_days=7).backtest_expiry()


def _indexes(warehouse: Warehouse, table: str) -> dict[str, str]:
    schema, name = table.split(".")
    rows = warehouse.query(
        "select indexname, indexdef from pg_indexes where schemaname = ? and tablename = ?", [schema, name]
    )
    return {r["indexname"]: r["indexdef"] for r in rows.to_dicts()}


def test_postgres_indexes_client_and_as_of_of_the_tables_that_have_both(warehouse):
    if warehouse.backend != "postgres":
        pytest.skip("DuckDB prunes by zonemaps over contiguously written rows; no index")
    _write(warehouse, "shop_a", D0)
    warehouse.replace_client_rows("shop_a", [TableWrite("raw.sales", pl.DataFrame({"item_id": ["a"]}))])
    name = client_as_of_index(TABLE).split(".")[1]
    assert "(client_id, as_of)" in _indexes(warehouse, TABLE)[name]
    assert _indexes(warehouse, "raw.sales") == {}  # no as_of: nothing to index by origin

    # A table an older version created without the index gets it at its next write.
    with warehouse.connect() as con, con.cursor() as cur:
        cur.execute(f"drop index {client_as_of_index(TABLE)}")
        con.commit()
    assert name not in _indexes(warehouse, TABLE)
    _write(warehouse, "shop_a", D0 + dt.timedelta(days=1))
    assert name in _indexes(warehouse, TABLE)


def test_retention_applies_to_spooled_writes_too(warehouse, tmp_path):
    """Chronos publishes spooled Parquet files (no client_id in them): the same delete applies."""
    _write(warehouse, "shop_a", D0)
    later = D0 + dt.timedelta(days=60)
    spool = tmp_path / "slice-0.parquet"
    _origin(later).write_parquet(spool)
    write = TableWrite(TABLE, None, {"as_of": later}, files=[spool], backtest_retention_days=30)
    assert warehouse.replace_client_rows("shop_a", [write]) == {TABLE: 3}
    assert _kinds(warehouse, "shop_a") == [
        (D0, "forecast", 1),
        (later, "backtest", 2),
        (later, "forecast", 1),
    ]
