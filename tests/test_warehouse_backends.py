"""The warehouse's one interface on both backends: the same calls give the same rows on DuckDB and
on the real Postgres server (a scratch database per test), and the URL helpers derive what dbt,
MLflow and libpq need from one WAREHOUSE_URL."""

import datetime as dt

import polars as pl
import pytest
from dagster import EnvVar

from forecast_assets.resources.build import build_resources
from forecast_assets.resources.warehouse import TableWrite, Warehouse
from forecast_assets.resources.warehouse_postgres import pg_type, to_pyformat
from forecast_assets.settings import Settings, redact_url
from forecast_assets.urls import dbt_env, libpq_url, sqlalchemy_url, warehouse_backend

TRICKY = ["plain", "", None, 'comma, "quote"', "new\nline", "percent % and ? mark"]


def _frame(n: int = len(TRICKY), base: float = 1.0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "item_id": [f"i{k}" for k in range(n)],
            "label": (TRICKY * n)[:n],
            "value": [base * k if k != 1 else None for k in range(n)],
            "count": list(range(n)),
            "date": [dt.date(2026, 1, 1) + dt.timedelta(days=k) for k in range(n)],
            "flag": [k % 2 == 0 for k in range(n)],
            "at": [dt.datetime(2026, 1, 1, 12, 30, 15, 250) for _ in range(n)],
        }
    )


def test_frames_round_trip_with_their_types_and_awkward_text(warehouse):
    frame = _frame()
    written = warehouse.replace_client_rows("shop_a", [TableWrite("raw.things", frame)])
    assert written == {"raw.things": len(TRICKY)}
    back = warehouse.read_client("raw.things", "shop_a").sort("item_id")
    assert back.columns == ["client_id", *frame.columns]
    assert back.drop("client_id").to_dicts() == frame.to_dicts()
    assert back.schema["date"] == pl.Date and back.schema["flag"] == pl.Boolean
    assert back.schema["count"] == pl.Int64 and back.schema["value"] == pl.Float64


def test_replace_is_per_client_and_scope_and_idempotent(warehouse):
    old, new = dt.date(2026, 1, 1), dt.date(2026, 2, 1)
    for client in ("shop_a", "shop_b"):
        for as_of in (old, new):
            frame = _frame(3).with_columns(pl.lit(as_of).alias("as_of"))
            warehouse.replace_client_rows(client, [TableWrite("ml.scored", frame, {"as_of": as_of})])
    # Rerunning one client's origin replaces exactly those rows.
    again = _frame(2, base=10.0).with_columns(pl.lit(new).alias("as_of"))
    warehouse.replace_client_rows("shop_a", [TableWrite("ml.scored", again, {"as_of": new})])
    counts = warehouse.query(
        "select client_id, as_of, count(*) as n, max(value) as top from ml.scored "
        "group by client_id, as_of order by client_id, as_of"
    ).rows()
    assert counts == [
        ("shop_a", old, 3, 2.0),
        ("shop_a", new, 2, 0.0),
        ("shop_b", old, 3, 2.0),
        ("shop_b", new, 3, 2.0),
    ]


def test_a_failed_write_leaves_every_table_as_it_was(warehouse):
    warehouse.replace_client_rows("shop_a", [TableWrite("raw.first", _frame(3))])
    warehouse.replace_client_rows("shop_a", [TableWrite("raw.second", _frame(3))])
    broken = _frame(2).with_columns(pl.lit("not a date").alias("date"))  # text into a date column
    with pytest.raises(Exception):  # noqa: B017 (the backends raise their own error types)
        warehouse.replace_client_rows(
            "shop_a", [TableWrite("raw.first", _frame(1)), TableWrite("raw.second", broken)]
        )
    assert warehouse.query("select count(*) as n from raw.first").rows() == [(3,)]
    assert warehouse.query("select count(*) as n from raw.second").rows() == [(3,)]


def test_another_clients_rows_are_refused(warehouse):
    frame = _frame(2).with_columns(pl.lit("shop_b").alias("client_id"))
    with pytest.raises(ValueError, match="another client's rows"):
        warehouse.replace_client_rows("shop_a", [TableWrite("raw.things", frame)])


def test_spooled_parquet_files_are_written_for_the_client(warehouse, tmp_path):
    files = []
    for k in range(3):
        path = tmp_path / f"part-{k}.parquet"
        _frame(4, base=k + 1.0).with_columns(pl.lit(k).alias("part")).write_parquet(path)
        files.append(path)
    written = warehouse.replace_client_rows("shop_a", [TableWrite("ml.spooled", None, {}, files=files)])
    assert written == {"ml.spooled": 12}
    rows = warehouse.query(
        "select client_id, count(*) as n, count(distinct part) as parts from ml.spooled group by client_id"
    ).rows()
    assert rows == [("shop_a", 12, 3)]


def test_reads_by_items_until_a_date_and_with_literal_percent_and_question_marks(warehouse):
    warehouse.replace_client_rows("shop_a", [TableWrite("raw.things", _frame())])
    items = warehouse.read_client_items("raw.things", "shop_a", ["i0", "i2", "i4"], dt.date(2026, 1, 3))
    assert sorted(items["item_id"]) == ["i0", "i2"]
    assert warehouse.read_client_items("raw.things", "shop_a", []).is_empty()
    window = warehouse.read_client_items(
        "raw.things", "shop_a", ["i0", "i2", "i3", "i4"], dt.date(2026, 1, 4), since=dt.date(2026, 1, 2)
    )
    assert sorted(window["item_id"]) == ["i2", "i3"]  # dates in (since, until]
    found = warehouse.query(
        "select item_id from raw.things where label like '%\\% and ?%' escape '\\' and client_id = ?",
        ["shop_a"],
    )
    assert found["item_id"].to_list() == ["i5"]
    assert warehouse.table_exists("raw.things") and not warehouse.table_exists("raw.nothing")


def test_missing_columns_are_added_to_an_older_table(warehouse):
    warehouse.replace_client_rows("shop_a", [TableWrite("ml.grows", _frame(2).select("item_id", "value"))])
    wider = _frame(2).select("item_id", "value", "label", "count")
    assert sorted(warehouse.add_missing_columns("ml.grows", wider)) == ["count", "label"]
    warehouse.replace_client_rows("shop_a", [TableWrite("ml.grows", wider)])
    assert warehouse.query("select count(label) as n from ml.grows").rows() == [(2,)]


def test_unsafe_names_and_unknown_schemes_are_refused(tmp_path):
    warehouse = Warehouse(url=f"duckdb:///{tmp_path / 'w.duckdb'}")
    with pytest.raises(ValueError, match="not a safe table name"):
        warehouse.read_client("raw.things; drop table x", "shop_a")
    with pytest.raises(ValueError, match="unsupported WAREHOUSE_URL scheme"):
        _ = Warehouse(url="mysql://u@h/db").backend


def test_placeholders_become_pyformat_outside_quotes_only():
    assert to_pyformat("a = ? and b like 'x%?' and \"q?\" = ?") == (
        "a = %s and b like 'x%%?' and \"q?\" = %s"
    )
    assert to_pyformat("it''s ? 'a''?'") == "it''s %s 'a''?'"


def test_polars_types_map_to_postgres_columns():
    assert pg_type(pl.Utf8) == "text" and pg_type(pl.Float64) == "double precision"
    assert pg_type(pl.Int64) == "bigint" and pg_type(pl.Date) == "date" and pg_type(pl.Boolean) == "boolean"
    assert pg_type(pl.Datetime("us")) == "timestamp" and pg_type(pl.Datetime("us", "UTC")) == "timestamptz"
    with pytest.raises(TypeError):
        pg_type(pl.List(pl.Int64))


def test_one_url_gives_dbt_mlflow_and_libpq_their_forms(tmp_path):
    url = "postgresql://forecast:s%40cret@db.internal:6543/warehouse"
    assert warehouse_backend(url) == "postgres" and warehouse_backend("duckdb:///x.duckdb") == "duckdb"
    assert dbt_env(url) == {
        "DBT_TARGET": "postgres",
        "DBT_PG_HOST": "db.internal",
        "DBT_PG_PORT": "6543",
        "DBT_PG_USER": "forecast",
        "DBT_ENV_SECRET_PG_PASSWORD": "s@cret",
        "DBT_PG_DBNAME": "warehouse",
        "DBT_PG_SSLMODE": "prefer",
        "DBT_PG_SSLROOTCERT": "",
        "DBT_PG_SSLCERT": "",
        "DBT_PG_SSLKEY": "",
    }
    assert dbt_env(f"duckdb:///{tmp_path}/w.duckdb") == {
        "DBT_TARGET": "duckdb",
        "DBT_DUCKDB_PATH": f"{tmp_path}/w.duckdb",
    }
    assert sqlalchemy_url(url).startswith("postgresql+psycopg2://forecast:")
    assert sqlalchemy_url("postgresql+psycopg2://u@h/d") == "postgresql+psycopg2://u@h/d"
    assert sqlalchemy_url("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"
    assert libpq_url("postgresql+psycopg2://u@h/d") == "postgresql://u@h/d"
    assert redact_url(url) == "postgresql://forecast:***@db.internal:6543/warehouse"


def test_mlflow_artifacts_stay_explicit_for_a_database_store(tmp_path):
    def settings(uri: str, root: str = "") -> Settings:
        return Settings(
            home=tmp_path,
            landing_dir=tmp_path,
            warehouse_url="postgresql://u@h/d",
            mlflow_tracking_uri=uri,
            mlflow_artifact_root=root,
        )

    assert settings("postgresql+psycopg2://u@h/mlflow").mlflow_artifact_location == (
        (tmp_path / "mlartifacts").as_uri()
    )
    assert settings(f"sqlite:///{tmp_path}/x/mlflow.db").mlflow_artifact_location == (
        (tmp_path / "x" / "mlartifacts").as_uri()
    )
    assert settings("http://mlflow:5000").mlflow_artifact_location is None
    assert (
        settings("http://mlflow:5000", "s3://bucket/mlflow").mlflow_artifact_location == "s3://bucket/mlflow"
    )
    assert settings("postgresql+psycopg2://u@h/mlflow").dbt_target == "postgres"


def test_urls_from_the_environment_reach_resources_as_env_vars(monkeypatch, tmp_path):
    """The Dagster UI shows resource config: a URL carrying a password must appear there as the
    name of its environment variable, and settings shown or logged have it masked."""
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://forecast:s3cret@db.internal:5432/warehouse")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://forecast:s3cret@db.internal:5432/mlflow")
    monkeypatch.setenv("FORECAST_HOME", str(tmp_path))
    settings = Settings.from_env()
    resources = build_resources(settings)
    assert isinstance(resources["warehouse"].url, EnvVar) and resources["warehouse"].url == "WAREHOUSE_URL"
    tracking_uri = resources["mlflow_tracking"].tracking_uri
    assert isinstance(tracking_uri, EnvVar) and tracking_uri == "MLFLOW_TRACKING_URI"
    assert settings.mlflow_tracking_uri.startswith("postgresql+psycopg2://")
    assert "s3cret" not in repr(settings.redacted())
