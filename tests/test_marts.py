"""The consumer marts built by real dbt on a small hand-made warehouse: which rows they pick, their
contract (names and types), their dbt tests, and `dbt docs generate`.

The ml.* and raw.products tables are written with the same schemas and writer the assets use, for
two clients and two forecast origins, so the marts' choices can be checked by hand. dbt runs as a
subprocess with its own target and log paths, leaving dbt_project/target (Dagster's manifest)
alone.
"""

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from forecast_assets.core.forecasting.frame import DEFAULT_QUANTILES, forecast_table_schema, quantile_column
from forecast_assets.core.inventory.policy import inventory_recommendations, to_inventory_table
from forecast_assets.core.landing.validation import PRODUCTS
from forecast_assets.defs.dbt import dbt_executable
from forecast_assets.defs.evaluation import EVALUATION_SCHEMA
from forecast_assets.resources.warehouse import TableWrite, Warehouse
from forecast_assets.settings import DBT_PROJECT_DIR
from forecast_assets.urls import dbt_env

from .backends import BACKEND, SCRATCH, clone_warehouse, execute, sql_rows

MARTS = ("fct_demand_forecast", "fct_forecast_accuracy", "fct_inventory_recommendations", "dim_item")
QCOLS = [quantile_column(q) for q in DEFAULT_QUANTILES]
OLD, NEW = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
CHAMPIONS = {"a": "seasonal_naive", "b": "auto_ets"}  # at NEW; at OLD the other way round


def _forecasts(client: str, as_of: dt.date, model: str) -> pl.DataFrame:
    rows = []
    for item in ("a", "b"):
        for kind, origin in (("forecast", as_of), ("backtest", as_of - dt.timedelta(days=3))):
            for step in (1, 2, 3):
                level = 10.0 * step + (1 if model == "auto_ets" else 0)
                rows.append(
                    {
                        "as_of": as_of,
                        "kind": kind,
                        "cutoff": origin,
                        "model": model,
                        "model_id": f"statsforecast/{model}",
                        "item_id": item,
                        "date": origin + dt.timedelta(days=step),
                        "step": step,
                        "point": level,
                        **{c: level - 4 + i for i, c in enumerate(QCOLS)},
                        "mlflow_run_id": f"run-{client}-{as_of}",
                    }
                )
    return pl.DataFrame(rows, schema=forecast_table_schema(DEFAULT_QUANTILES))


def _evaluation(as_of: dt.date, champions: dict[str, str]) -> pl.DataFrame:
    rows = [
        {
            "level": "item",
            "model": model,
            "item_id": item,
            "n_obs": 3,
            "mae": 1.0,
            "rmse": 1.0,
            "bias": 0.5,
            "wape": 0.1,
            "mase": 0.9,
            "champion_reason": "lowest holdout MAE" if champions[item] == model else None,
            "is_champion": champions[item] == model,
        }
        for item in ("a", "b")
        for model in ("auto_ets", "seasonal_naive")
    ] + [
        {"level": "client", "model": m, "item_id": None, "n_obs": 6, "mae": 1.0, "rmse": 1.0, "bias": 0.5}
        | {"wape": 0.1, "mase": 0.9, "champion_reason": None, "is_champion": False}
        for m in ("auto_ets", "seasonal_naive")
    ]
    return pl.DataFrame(rows, schema=EVALUATION_SCHEMA).with_columns(
        pl.lit(as_of).alias("as_of"),
        pl.lit(as_of - dt.timedelta(days=3)).alias("cutoff"),
        pl.lit(1).alias("backtest_windows"),
        pl.lit("run-1").alias("mlflow_run_id"),
    )


def _inventory(as_of: dt.date) -> pl.DataFrame:
    dates = pd.date_range(as_of + dt.timedelta(days=1), periods=3)
    forecast = pd.DataFrame({"item_id": "a", "date": dates, "point": [10.0, 20.0, 30.0]})
    for i, c in enumerate(QCOLS):
        forecast[c] = forecast["point"] - 4 + i
    products = pd.DataFrame(
        {"item_id": ["a", "b"], "lead_time_days": [2.0, None], "lead_time_std_days": [None, None]}
        | {"moq": [None, None], "pack_size": [None, None]}
    )
    stock = pd.DataFrame(
        {"item_id": ["a"], "date": [pd.Timestamp(as_of)], "on_hand": [5.0], "on_order": [0.0]}
    )
    profile = pd.DataFrame(
        {"item_id": ["a", "b"], "revenue": [90.0, 10.0], "revenue_share": [0.9, 0.1], "abc_class": ["A", "B"]}
        | {"weekly_demand_cv": [0.3, 1.4], "xyz_class": ["X", "Z"], "adi": [1.0, 3.0]}
        | {"demand_size_cv2": [0.1, 0.7], "demand_class": ["smooth", "lumpy"]}
    )
    champions = pd.DataFrame({"item_id": ["a"], "champion_model": ["seasonal_naive"]})
    recs = inventory_recommendations(
        forecast,
        pd.Series({"a": 2.0}),
        champions,
        products,
        stock,
        0.95,
        7,
        "sigma",
        DEFAULT_QUANTILES,
        profile,
    )
    return to_inventory_table(recs).with_columns(pl.lit(as_of).alias("as_of"))


def _products() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "item_id": ["a", "b"],
            "name": ["Apples", "Bolts"],
            "category": ["fruit", "hardware"],
            "unit_cost": [0.5, 0.1],
            "price": [1.0, 0.25],
            "lead_time_days": [2.0, None],
            "lead_time_std_days": [None, None],
            "moq": [None, 100.0],
            "pack_size": [None, 50.0],
        },
        schema=PRODUCTS.columns,
    )


def dbt(args: list[str], warehouse_url: str, work: Path, client: str) -> subprocess.CompletedProcess:
    """Run dbt on the project with its own target/log paths and the client var, with the target
    and connection derived from the warehouse URL as the Dagster assets derive them."""
    env = {**os.environ, **dbt_env(warehouse_url)}
    return subprocess.run(
        [
            dbt_executable(),
            *args,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
            "--vars",
            json.dumps({"client_id": client}),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A warehouse with two clients and two origins; the marts built and tested for shop_x."""
    work = tmp_path_factory.mktemp("marts")
    path = SCRATCH.create("marts") if BACKEND == "postgres" else f"duckdb:///{work / 'warehouse.duckdb'}"
    warehouse = Warehouse(url=path)
    for client in ("shop_x", "shop_y"):
        writes = [TableWrite("raw.products", _products())]
        for as_of, champs in ((OLD, {"a": "auto_ets", "b": "seasonal_naive"}), (NEW, CHAMPIONS)):
            scope = {"as_of": as_of}
            writes += [
                TableWrite(
                    "ml.baseline_forecast",
                    pl.concat([_forecasts(client, as_of, m) for m in champs.values()]),
                    scope,
                ),
                TableWrite("ml.forecast_evaluation", _evaluation(as_of, champs), scope),
                TableWrite("ml.inventory_metrics", _inventory(as_of), scope),
            ]
        writes.append(
            TableWrite("ml.chronos_forecast", pl.DataFrame(schema=forecast_table_schema(DEFAULT_QUANTILES)))
        )
        # Scoped writes replace only their as_of, so both origins stay, as they do in production.
        for w in writes:
            warehouse.replace_client_rows(client, [w])
    result = dbt(["build", "--select", "stg_products", "tag:serving"], path, work, "shop_x")
    return path, work, result


def rows(warehouse_url: str, query: str) -> list[tuple]:
    return sql_rows(warehouse_url, query)


# information_schema spellings of the contract's types (DuckDB, Postgres) -> one name each.
_TYPE_NAMES = {"DOUBLE PRECISION": "DOUBLE", "CHARACTER VARYING": "VARCHAR"}


def _type_name(data_type: str) -> str:
    return _TYPE_NAMES.get(data_type.upper(), data_type.upper())


def test_marts_build_and_their_dbt_tests_pass(built):
    _, _, result = built
    assert result.returncode == 0, result.stdout[-4000:]
    assert "ERROR=0" in result.stdout.replace(" ", "") and "WARN=0" in result.stdout.replace(" ", "")


def test_demand_forecast_is_the_latest_champion_forecast_of_the_client(built):
    path, _, _ = built
    got = rows(
        path,
        "select client_id, item_id, forecast_date, horizon_step, as_of, model, forecast_units, q10, q90, "
        "mlflow_run_id from analytics.fct_demand_forecast order by item_id, forecast_date",
    )
    # Only shop_x (the client built), only the NEW origin's future days, only each item's champion.
    assert [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in got] == [
        ("shop_x", item, NEW + dt.timedelta(days=s), s, NEW, CHAMPIONS[item])
        for item in "ab"
        for s in (1, 2, 3)
    ]
    # a's champion is seasonal_naive (level 10 * step), b's auto_ets (10 * step + 1); q10 = point - 4.
    assert [r[6] for r in got] == [10.0, 20.0, 30.0, 11.0, 21.0, 31.0]
    assert [r[7] for r in got] == [6.0, 16.0, 26.0, 7.0, 17.0, 27.0]
    assert {r[9] for r in got} == {f"run-shop_x-{NEW}"}


def test_inventory_and_dim_item_rows(built):
    path, _, _ = built
    inv = rows(
        path,
        "select item_id, as_of, status, missing, safety_stock_method, lead_time_demand, abc_class, "
        "demand_class, suggested_order_qty from analytics.fct_inventory_recommendations order by item_id",
    )
    assert inv[0][:3] == ("a", NEW, "ok") and inv[0][4:] == ("sigma", 30.0, "A", "smooth", inv[0][8])
    assert inv[0][8] > 0  # 5 on hand is below the reorder point
    assert inv[1][:3] == ("b", NEW, "incomplete") and "lead_time_days" in inv[1][3]
    assert inv[1][6:8] == ("B", "lumpy")
    dim = rows(
        path,
        "select client_id, item_id, item_name, moq, pack_size, abc_class, xyz_class, classified_as_of "
        "from analytics.dim_item order by item_id",
    )
    assert dim == [
        ("shop_x", "a", "Apples", None, None, "A", "X", NEW),
        ("shop_x", "b", "Bolts", 100.0, 50.0, "B", "Z", NEW),
    ]
    accuracy = rows(path, "select count(*), count(distinct as_of) from analytics.fct_forecast_accuracy")
    assert accuracy == [(12, 2)]  # both origins: (4 item + 2 client rows) x 2


def test_marts_have_the_contracted_types(built):
    """The types a SQL consumer sees are the ones in the contract (_marts.yml, CHANGELOG.md)."""
    path, work, _ = built
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    for mart in MARTS:
        node = manifest["nodes"][f"model.forecast_assets.{mart}"]
        assert node["config"]["contract"]["enforced"] is True
        declared = {c: _type_name(v["data_type"]) for c, v in node["columns"].items()}
        actual = {
            c: _type_name(t)
            for c, t in rows(
                path,
                "select column_name, data_type from information_schema.columns "
                f"where table_schema = 'analytics' and table_name = '{mart}' order by ordinal_position",
            )
        }
        assert list(actual) == list(declared), mart
        assert actual == declared, mart
        assert all(v["description"] for v in node["columns"].values()), (
            f"{mart}: a column lacks a description"
        )
        assert node["description"]


def test_dbt_docs_generate(built):
    path, work, _ = built
    result = dbt(["docs", "generate"], path, work, "shop_x")
    assert result.returncode == 0, result.stdout[-4000:]
    catalog = json.loads((work / "target" / "catalog.json").read_text())
    assert not catalog.get("errors")
    for mart in MARTS:
        columns = catalog["nodes"][f"model.forecast_assets.{mart}"]["columns"]
        assert {"client_id", "item_id"} <= set(columns)
    assert (work / "target" / "index.html").exists()


def test_an_item_without_an_inventory_row_fails_the_dbt_tests(built, tmp_path):
    path, work, _ = built
    broken = clone_warehouse(path, tmp_path)
    execute(
        broken,
        "delete from analytics_candidates.fct_inventory_recommendations__candidate where item_id = 'b'",
    )
    result = dbt(["test", "--select", "dim_item__candidate"], broken, work, "shop_x")
    assert result.returncode != 0
    assert "FAIL 1 has_match_dim_item__candidate_client_id__item_id" in result.stdout, result.stdout[-3000:]


def test_the_data_tests_are_on_the_candidates_and_every_mart_waits_for_all_of_them(built):
    """A served mart carries the contract, its candidate the tests: `dbt build` runs a model's
    tests before its children, so a client's rows reach a served mart only once every candidate's
    tests passed (each mart depends on all four candidates)."""
    _, work, _ = built
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    nodes = manifest["nodes"]
    candidates = {f"model.forecast_assets.{m}__candidate" for m in MARTS}
    tested = {
        parent
        for node in nodes.values()
        if node["resource_type"] == "test"
        for parent in node["depends_on"]["nodes"]
        if parent.split(".")[-1].removesuffix("__candidate") in MARTS
    }
    assert tested == candidates  # every candidate is tested, no served mart is
    for mart in MARTS:
        served, candidate = (
            nodes[f"model.forecast_assets.{mart}"],
            nodes[f"model.forecast_assets.{mart}__candidate"],
        )
        assert set(served["depends_on"]["nodes"]) == candidates
        assert served["schema"] == "analytics" and candidate["schema"] == "analytics_candidates"
        assert list(candidate["columns"]) == list(served["columns"]), mart
        assert "serving" in candidate["tags"] and "serving" in served["tags"]


def _runs(client: str, *runs: tuple[dt.date, int, bool]) -> pl.DataFrame:
    """ml.forecast_runs rows: (as_of, minutes after a fixed time it was evaluated, retrospective)."""
    start = dt.datetime(2026, 11, 1, 6, 0)
    return pl.DataFrame(
        {
            "as_of": [r[0] for r in runs],
            "evaluated_at": [start + dt.timedelta(minutes=r[1]) for r in runs],
            "retrospective": [r[2] for r in runs],
            "dagster_run_id": [f"{client}-{k}" for k in range(len(runs))],
        },
        schema={"as_of": pl.Date, "evaluated_at": pl.Datetime("us"), "retrospective": pl.Boolean}
        | {"dagster_run_id": pl.Utf8},
    )


def test_marts_serve_the_latest_non_retrospective_run_not_the_latest_as_of(built, tmp_path):
    """NEW was a wrong future date, fixed by a later normal run for OLD: OLD is served (forecast,
    inventory, items, and accuracy up to OLD). A retrospective run afterwards (NEW again) changes
    nothing; a client with only retrospective runs is served its latest one."""
    path, work, _ = built
    warehouse_url = clone_warehouse(path, tmp_path)
    warehouse = Warehouse(url=warehouse_url)
    served = (
        "select (select min(as_of) from analytics.fct_demand_forecast where client_id = 'shop_y'),"
        " (select max(as_of) from analytics.fct_demand_forecast where client_id = 'shop_y'),"
        " (select max(as_of) from analytics.fct_inventory_recommendations where client_id = 'shop_y'),"
        " (select max(classified_as_of) from analytics.dim_item where client_id = 'shop_y'),"
        " (select max(as_of) from analytics.fct_forecast_accuracy where client_id = 'shop_y')"
    )
    build = ["build", "--select", "stg_products", "tag:serving"]
    cases = [
        ([(NEW, 0, False), (OLD, 10, False)], OLD),  # the fix is served
        ([(NEW, 0, False), (OLD, 10, False), (NEW, 20, True)], OLD),  # retrospective: no change
        ([(OLD, 0, True), (NEW, 10, True)], NEW),  # only retrospective runs: the latest
        ([(NEW, 0, True), (OLD, 10, False)], OLD),  # a normal run beats a later retrospective one
    ]
    for k, (runs, expected) in enumerate(cases):
        warehouse.replace_client_rows("shop_y", [TableWrite("ml.forecast_runs", _runs("shop_y", *runs))])
        result = dbt(build, warehouse_url, work / f"served{k}", "shop_y")
        assert result.returncode == 0, result.stdout[-4000:]
        assert rows(warehouse_url, served) == [(expected,) * 5], runs
    # shop_x, built before any forecast_runs row of its own, is still served max(as_of).
    assert rows(
        warehouse_url, "select distinct as_of from analytics.fct_demand_forecast where client_id = 'shop_x'"
    ) == [(NEW,)]
