"""Tenants never touch each other at run time: each client's dbt tests see only that client's rows,
so one client's bad rows fail its own build and no other's.

Real dbt on the suite's backend (``FORECAST_TEST_BACKEND=postgres`` for the Postgres server), the
same hand-made warehouse as ``test_marts.py``.
"""

import time
from concurrent.futures import ThreadPoolExecutor

import polars as pl
import pytest

from forecast_assets.core.forecasting.frame import DEFAULT_QUANTILES, forecast_table_schema
from forecast_assets.resources.warehouse import TableWrite, Warehouse

from .backends import BACKEND, SCRATCH, execute
from .test_marts import CHAMPIONS, NEW, _evaluation, _forecasts, _inventory, _products, dbt


@pytest.fixture(scope="module")
def two_clients(tmp_path_factory):
    """A warehouse holding the ml and raw rows of two clients, nothing built yet."""
    work = tmp_path_factory.mktemp("isolation")
    url = SCRATCH.create("isolation") if BACKEND == "postgres" else f"duckdb:///{work / 'w.duckdb'}"
    warehouse = Warehouse(url=url)
    for client in ("shop_a", "shop_b"):
        warehouse.replace_client_rows(
            client,
            [
                TableWrite("raw.products", _products()),
                TableWrite(
                    "ml.baseline_forecast",
                    pl.concat([_forecasts(client, NEW, m) for m in set(CHAMPIONS.values())]),
                ),
                TableWrite("ml.forecast_evaluation", _evaluation(NEW, CHAMPIONS)),
                TableWrite("ml.inventory_metrics", _inventory(NEW)),
                TableWrite(
                    "ml.chronos_forecast", pl.DataFrame(schema=forecast_table_schema(DEFAULT_QUANTILES))
                ),
            ],
        )
    return url, work


def test_a_clients_bad_rows_fail_only_its_own_dbt_build(two_clients):
    url, work = two_clients
    build = ["build", "--select", "stg_products", "tag:serving"]
    # Client A loses item b's inventory row: its dim_item has an item without a recommendation.
    execute(url, "delete from ml.inventory_metrics where client_id = 'shop_a' and item_id = 'b'")
    a = dbt(build, url, work / "a", "shop_a")
    assert a.returncode != 0
    assert "FAIL 1 has_match_dim_item_client_id__item_id__ref_fct_inventory_recommendations_" in a.stdout
    # A's bad rows are now in the marts (its build wrote them before the test ran), yet B's
    # build, and B's tests, pass: they look at B's rows only.
    assert execute_count(url, "shop_a") > 0
    b = dbt(build, url, work / "b", "shop_b")
    assert b.returncode == 0, b.stdout[-4000:]
    assert "ERROR=0" in b.stdout.replace(" ", "")
    # And A's test still fails on A's rows when B's are fine.
    again = dbt(["test", "--select", "dim_item"], url, work / "a", "shop_a")
    assert again.returncode != 0


def execute_count(url: str, client: str) -> int:
    """Rows of ``client`` in dim_item."""
    return Warehouse(url=url).query(
        "select count(*) as n from analytics.dim_item where client_id = ?", [client]
    )["n"][0]


def test_every_data_test_filters_on_the_run_client(two_clients):
    """The compiled SQL of every data test reads its model through the client filter."""
    url, work = two_clients
    result = dbt(["compile", "--select", "test_type:data"], url, work / "compile", "shop_b")
    assert result.returncode == 0, result.stdout[-4000:]
    compiled = list((work / "compile" / "target" / "compiled").rglob("*.sql"))
    assert len(compiled) > 20
    unscoped = [p.name for p in compiled if "client_id = 'shop_b'" not in p.read_text()]
    assert unscoped == []


def test_two_concurrent_serving_runs_of_one_client_wait_for_its_lock(two_clients, tmp_path):
    """The dbt_serving asset holds the client's warehouse lock for its whole dbt build: while the
    lock is held elsewhere, neither of two runs of the client proceeds; released, both succeed
    one after the other and the marts hold one version of the client's rows."""
    if BACKEND != "postgres":
        pytest.skip("the advisory lock is Postgres's; DuckDB's file lock serializes on its own")
    from dagster import DagsterInstance, materialize

    from forecast_assets.definitions import build_resource_defs
    from forecast_assets.defs.dbt.assets import build_dbt_assets
    from forecast_assets.defs.partitions import clients_partitions

    from .conftest import make_settings

    url, _ = two_clients
    settings = make_settings(tmp_path, warehouse_url=url)
    _, dbt_serving = build_dbt_assets()
    warehouse = Warehouse(url=url)

    def serve(_: int) -> bool:
        instance = DagsterInstance.ephemeral()
        instance.add_dynamic_partitions(clients_partitions.name, ["shop_b"])
        result = materialize(
            [dbt_serving],
            partition_key="shop_b",
            resources=build_resource_defs(settings),
            instance=instance,
            raise_on_error=False,
        )
        return result.success

    with ThreadPoolExecutor(2) as pool:
        with warehouse.client_lock("shop_b"):
            runs = [pool.submit(serve, k) for k in range(2)]
            time.sleep(8)
            assert not any(r.done() for r in runs)  # both wait for the client's lock
        assert [r.result(timeout=600) for r in runs] == [True, True]
    counts = warehouse.query(
        "select count(*) as n, count(distinct (item_id, forecast_date)) as keys "
        "from analytics.fct_demand_forecast where client_id = 'shop_b'"
    ).rows()
    assert counts == [(6, 6)]
