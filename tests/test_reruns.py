"""A rerun the operator accepts replaces a client's rows even when it yields none (no stale rows)."""

import duckdb
import pytest
from dagster import AssetSelection, DagsterInstance, materialize

from forecast_assets.definitions import build_assets, build_resource_defs
from forecast_assets.defs.partitions import clients_partitions

from .conftest import make_settings


def _demand_rows(settings, client: str) -> int:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        query = "select count(*) from analytics.ts_demand_daily where client_id = ?"
        return con.execute(query, [client]).fetchone()[0]


def test_a_delivery_with_no_valid_sales_clears_the_clients_modelled_rows(tmp_path, landing):
    settings = make_settings(tmp_path)
    if settings.duckdb_path is None:
        pytest.skip("reads the DuckDB file directly; the Postgres run covers reruns in test_flow")
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(clients_partitions.name, ["shop_a", "shop_b"])
    selection = AssetSelection.groups("ingestion") | AssetSelection.keys("ts_demand_daily").upstream()

    def build(client: str, run_config: dict | None = None) -> None:
        result = materialize(
            build_assets(),
            selection=selection,
            partition_key=client,
            resources=build_resource_defs(settings),
            instance=instance,
            run_config=run_config,
        )
        assert result.success

    build("shop_a")
    build("shop_b")
    before_a, before_b = _demand_rows(settings, "shop_a"), _demand_rows(settings, "shop_b")
    assert before_a > 0 and before_b > 0
    # shop_b's new delivery: every sales row is rejected (negative units).
    (landing / "shop_b" / "sales.parquet").unlink()
    (landing / "shop_b" / "sales.csv").write_text("date,item_id,units_sold\n2026-10-01,SHO-0001,-1\n")
    # The shrink guard would refuse it (tests/test_delivery_faults.py); the operator accepts it.
    build("shop_b", {"ops": {"raw_landing": {"config": {"accept_shrink": True}}}})
    assert _demand_rows(settings, "shop_b") == 0  # not the previous delivery's rows
    assert _demand_rows(settings, "shop_a") == before_a  # another client's rows untouched
