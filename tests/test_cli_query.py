"""``forecast-assets query``: one read-only statement against the configured warehouse, printed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import psycopg2
import pytest

from forecast_assets.cli import main
from forecast_assets.urls import libpq_url

# Statements query must refuse before running them: writes, and a write hidden after a read.
WRITES = [
    "create table analytics.other as select 1 as a",
    "insert into analytics.fct_demand_forecast values ('x', 'y', date '2026-01-01', 'm', 1.0)",
    "update analytics.fct_demand_forecast set forecast_units = 0",
    "delete from analytics.fct_demand_forecast",
    "drop table analytics.fct_demand_forecast",
    "select 1; drop table analytics.fct_demand_forecast",
    "select 1; commit; drop table analytics.fct_demand_forecast",
]
# Parsed as a read but writing all the same: the read-only connection or transaction refuses it.
WRITING_READ = (
    "with gone as (delete from analytics.fct_demand_forecast returning *) select count(*) from gone"
)
COUNT = "select count(*) as n from analytics.fct_demand_forecast"
ROWS = [
    ("demo_grocer", "milk", dt.date(2026, 11, 1), "chronos", 12.5),
    ("demo_grocer", "bread", dt.date(2026, 11, 1), "seasonal_naive", 3.0),
]


@pytest.fixture
def duckdb_warehouse(tmp_path, monkeypatch) -> Path:
    """A small DuckDB warehouse file, written with duckdb, configured as WAREHOUSE_URL."""
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema analytics")
        con.execute(
            "create table analytics.fct_demand_forecast (client_id varchar, item_id varchar, "
            "forecast_date date, model varchar, forecast_units double)"
        )
        con.executemany("insert into analytics.fct_demand_forecast values (?, ?, ?, ?, ?)", ROWS)
    monkeypatch.setenv("FORECAST_HOME", str(tmp_path))
    monkeypatch.setenv("WAREHOUSE_URL", f"duckdb:///{path}")
    return path


@pytest.fixture
def postgres_warehouse(postgres_url, tmp_path, monkeypatch) -> str:
    """The same table in a fresh Postgres database, configured as WAREHOUSE_URL."""
    con = psycopg2.connect(libpq_url(postgres_url))
    with con, con.cursor() as cur:
        cur.execute("create schema analytics")
        cur.execute(
            "create table analytics.fct_demand_forecast (client_id text, item_id text, "
            "forecast_date date, model text, forecast_units double precision)"
        )
        cur.executemany("insert into analytics.fct_demand_forecast values (%s, %s, %s, %s, %s)", ROWS)
    con.close()
    monkeypatch.setenv("FORECAST_HOME", str(tmp_path))
    monkeypatch.setenv("WAREHOUSE_URL", postgres_url)
    return postgres_url


def rows_left(capsys) -> int:
    """The table's row count, read through the command itself."""
    capsys.readouterr()
    assert main(["query", "--csv", COUNT]) == 0
    return int(capsys.readouterr().out.splitlines()[1])


@pytest.mark.usefixtures("duckdb_warehouse")
def test_prints_the_result_as_a_table(capsys) -> None:
    sql = "select item_id, model, forecast_units from analytics.fct_demand_forecast order by item_id"
    assert main(["query", sql]) == 0
    out = capsys.readouterr().out
    assert "shape: (2, 3)" in out
    bread, milk = (line for line in out.splitlines() if "bread" in line or "milk" in line)
    assert "seasonal_naive" in bread and "3.0" in bread
    assert "chronos" in milk and "12.5" in milk


@pytest.mark.usefixtures("duckdb_warehouse")
def test_prints_csv(capsys) -> None:
    sql = "select item_id, forecast_date, forecast_units from analytics.fct_demand_forecast order by item_id"
    assert main(["query", "--csv", sql]) == 0
    assert capsys.readouterr().out == (
        "item_id,forecast_date,forecast_units\nbread,2026-11-01,3.0\nmilk,2026-11-01,12.5\n"
    )


@pytest.mark.usefixtures("duckdb_warehouse")
@pytest.mark.parametrize("sql", WRITES)
def test_refuses_writes_on_duckdb(sql: str, capsys) -> None:
    assert main(["query", sql]) == 2
    assert "query" in capsys.readouterr().err
    assert rows_left(capsys) == len(ROWS)


def test_duckdb_file_is_opened_read_only(duckdb_warehouse: Path, capsys) -> None:
    assert main(["query", WRITING_READ]) == 1
    assert "read-only" in capsys.readouterr().err
    assert rows_left(capsys) == len(ROWS)
    with duckdb.connect(str(duckdb_warehouse)) as con:  # no lock left behind: a writer can open it
        assert con.execute(COUNT).fetchone() == (len(ROWS),)


def test_missing_warehouse_file_is_an_error_not_a_new_file(tmp_path, monkeypatch, capsys) -> None:
    path = tmp_path / "nowhere.duckdb"
    monkeypatch.setenv("FORECAST_HOME", str(tmp_path))
    monkeypatch.setenv("WAREHOUSE_URL", f"duckdb:///{path}")
    assert main(["query", "select 1"]) == 2
    assert "no DuckDB warehouse" in capsys.readouterr().err
    assert not path.exists()


@pytest.mark.usefixtures("postgres_warehouse")
def test_postgres_prints_csv_and_refuses_writes(capsys) -> None:
    sql = "select item_id, forecast_units from analytics.fct_demand_forecast order by item_id"
    assert main(["query", "--csv", sql]) == 0
    assert capsys.readouterr().out == "item_id,forecast_units\nbread,3.0\nmilk,12.5\n"
    for write in WRITES:
        assert main(["query", write]) == 2, write
    assert main(["query", WRITING_READ]) == 1
    assert "read-only transaction" in capsys.readouterr().err
    assert rows_left(capsys) == len(ROWS)


def test_help_lists_the_query_command(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "query" in capsys.readouterr().out
