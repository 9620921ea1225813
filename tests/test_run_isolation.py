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

from .backends import BACKEND, SCRATCH, execute, sql_rows
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


SERVED = ("fct_demand_forecast", "fct_forecast_accuracy", "fct_inventory_recommendations", "dim_item")


def serve(url: str, home, client: str) -> bool:
    """The real ``dbt_serving`` asset materialized for ``client``; True if the run succeeded."""
    from dagster import DagsterInstance, materialize

    from forecast_assets.definitions import build_resource_defs
    from forecast_assets.defs.dbt.assets import build_dbt_assets
    from forecast_assets.defs.partitions import clients_partitions

    from .conftest import make_settings

    _, dbt_serving = build_dbt_assets()
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(clients_partitions.name, [client])
    result = materialize(
        [dbt_serving],
        partition_key=client,
        resources=build_resource_defs(make_settings(home, warehouse_url=url)),
        instance=instance,
        raise_on_error=False,
    )
    return result.success


def served_rows(url: str, client: str, versions: bool = BACKEND == "postgres") -> dict[str, list[tuple]]:
    """Every served mart's rows of ``client``, every column, in a fixed order; on Postgres with each
    row's physical version (``xmin``), which a row deleted and re-inserted equal does not keep."""
    extra = ", xmin::text as row_version" if versions else ""
    return {
        mart: sorted(
            sql_rows(url, f"select *{extra} from analytics.{mart} where client_id = ?", [client]), key=repr
        )
        for mart in SERVED
    }


def test_a_failing_test_fails_only_its_client_and_leaves_its_served_rows_in_place(two_clients):
    """Both clients served; then client A's new rows break a test (an item without an inventory
    row) while its new forecasts would pass theirs. A's serving run fails, every served mart keeps
    A's previous rows exactly (the forecasts too: a served mart waits for every candidate's
    tests), and B's run, whose tests see only B's rows, succeeds."""
    url, work = two_clients
    assert dbt(["run", "--select", "stg_products"], url, work / "stg", "shop_a").returncode == 0
    assert serve(url, work / "a0", "shop_a") and serve(url, work / "b0", "shop_b")
    before = served_rows(url, "shop_a")
    assert all(before[m] for m in SERVED)

    execute(url, "update ml.baseline_forecast set point = point + 100 where client_id = 'shop_a'")
    execute(url, "delete from ml.inventory_metrics where client_id = 'shop_a' and item_id = 'b'")
    assert not serve(url, work / "a1", "shop_a")  # A's Dagster serving run fails
    a = dbt(["build", "--select", "tag:serving"], url, work / "a", "shop_a")
    assert a.returncode != 0
    assert "FAIL 1 has_match_dim_item__candidate_client_id__item_id" in a.stdout, a.stdout[-4000:]
    # A's candidates hold the new rows that failed; consumers still see the previous ones.
    assert sql_rows(
        url,
        "select count(*) from analytics_candidates.fct_inventory_recommendations__candidate "
        "where client_id = 'shop_a'",
    ) == [(1,)]
    assert sql_rows(
        url,
        "select min(forecast_units) from analytics_candidates.fct_demand_forecast__candidate "
        "where client_id = 'shop_a'",
    ) == [(110.0,)]
    assert served_rows(url, "shop_a") == before

    b_before = served_rows(url, "shop_b", versions=False)
    assert serve(url, work / "b1", "shop_b")
    b = dbt(["build", "--select", "tag:serving"], url, work / "b", "shop_b")
    assert b.returncode == 0, b.stdout[-4000:]
    assert "ERROR=0" in b.stdout.replace(" ", "")
    assert served_rows(url, "shop_b", versions=False) == b_before  # B re-served, same values
    assert served_rows(url, "shop_a") == before  # B's builds did not touch A's rows
    # And A's test still fails on A's rows when B's are fine.
    again = dbt(["test", "--select", "dim_item__candidate"], url, work / "a", "shop_a")
    assert again.returncode != 0


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
