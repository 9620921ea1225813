"""Inventory metrics from the champion forecast, stock levels and lead times, with item classes."""

import pandas as pd
import polars as pl
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from forecast_assets.core.classification import demand_profile
from forecast_assets.core.clients import validate_client_key
from forecast_assets.core.inventory.demand import (
    demand_window_start,
    forecast_error_correlation,
    forecast_error_sigma,
)
from forecast_assets.core.inventory.policy import inventory_recommendations, to_inventory_table
from forecast_assets.defs.inputs import (
    ForecastRunConfig,
    last_date,
    load_champions,
    load_demand,
    load_forecasts,
    resolve_as_of,
)
from forecast_assets.defs.partitions import ONE_CLIENT_PER_RUN, clients_partitions
from forecast_assets.resources.params import ForecastingParams, InventoryParams
from forecast_assets.resources.warehouse import TableWrite, Warehouse

INVENTORY_TABLE = "ml.inventory_metrics"


@asset(
    partitions_def=clients_partitions,
    backfill_policy=ONE_CLIENT_PER_RUN,
    group_name="inventory",
    deps=[AssetKey("forecast_evaluation"), AssetKey("raw_products"), AssetKey("raw_stock_levels")],
    kinds={"scipy", "duckdb"},
)
def inventory_metrics(
    context: AssetExecutionContext,
    config: ForecastRunConfig,
    warehouse: Warehouse,
    forecasting_params: ForecastingParams,
    inventory_params: InventoryParams,
) -> MaterializeResult:
    """Safety stock, reorder point, days of inventory, order quantity, stock-out risk, ABC/XYZ and
    demand class per item (``ml.inventory_metrics``). The spread behind the safety stock is the
    champion's backtest error (``sigma``) or its forecast quantiles (``quantile``), chosen by
    ``inventory_params.safety_stock_method``; both are written."""
    client_id = validate_client_key(context.partition_key)
    as_of = resolve_as_of(config, last_date(warehouse, client_id))
    forecasts = load_forecasts(warehouse, client_id, as_of)
    demand = load_demand(warehouse, client_id, until=as_of, since=demand_window_start(forecasts, as_of))
    champions = load_champions(warehouse, client_id, as_of)
    chosen = forecasts.merge(
        champions[["item_id", "champion_model"]],
        left_on=["item_id", "model"],
        right_on=["item_id", "champion_model"],
    )
    future = chosen[chosen["kind"] == "forecast"]
    backtest = chosen[chosen["kind"] == "backtest"].merge(
        demand[["item_id", "date", "units_sold", "is_stockout"]], on=["item_id", "date"]
    )
    backtest = backtest[backtest["is_stockout"] == 0]
    products = warehouse.read_client("raw.products", client_id).to_pandas()
    stock = _latest_stock(warehouse, client_id, as_of)
    profile = demand_profile(
        demand, list(products["item_id"]), as_of, inventory_params.abc_cutoffs, inventory_params.xyz_cutoffs
    )
    sigma = forecast_error_sigma(backtest)  # RMSE of the expected demand's errors: keeps the bias
    # The share of that error shared over a backtest window (a level error), pooled by demand class:
    # it makes the spread of the L + R total grow like L + R rather than its square root.
    classes = profile.set_index("item_id")["demand_class"].to_dict()
    correlation = forecast_error_correlation(backtest, classes)
    recs = inventory_recommendations(
        future,
        sigma,
        champions,
        products,
        stock,
        inventory_params.service_level,
        inventory_params.review_period_days,
        method=inventory_params.safety_stock_method,
        quantile_levels=forecasting_params.quantile_levels,
        profile=profile,
        error_correlation=correlation,
    )
    table = to_inventory_table(recs).with_columns(pl.lit(as_of.date()).alias("as_of"))
    warehouse.add_missing_columns(INVENTORY_TABLE, table)
    warehouse.replace_client_rows(client_id, [TableWrite(INVENTORY_TABLE, table, {"as_of": as_of.date()})])
    metadata = _inventory_metadata(recs, as_of, inventory_params.safety_stock_method)
    metadata["error_correlation_by_class"] = MetadataValue.json(
        {str(classes.get(item)): round(float(k), 4) for item, k in correlation.items()}  # one k per class
    )
    return MaterializeResult(metadata=metadata)


def _latest_stock(warehouse: Warehouse, client_id: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """Each item's latest stock snapshot on or before ``as_of`` (on hand, on order)."""
    return warehouse.query(
        "select item_id, date, on_hand, on_order from raw.stock_levels s where client_id = ? and date = "
        "(select max(date) from raw.stock_levels t where t.client_id = s.client_id and t.item_id = s.item_id "
        "and t.date <= ?)",
        [client_id, as_of.date()],
    ).to_pandas()


def _inventory_metadata(recs: pd.DataFrame, as_of: pd.Timestamp, method: str) -> dict[str, object]:
    """What the asset reports: items to order, incomplete items with what they miss, the classes."""
    incomplete = recs[recs["status"] != "ok"]
    return {
        "as_of": str(as_of.date()),
        "items": len(recs),
        "items_to_order": int((recs["suggested_order_qty"].fillna(0) > 0).sum()),
        "incomplete": len(incomplete),
        "safety_stock_method": method,
        "quantile_method_approximation": "per-day normal fitted to the quantiles above the median; "
        "days independent (variances add over the lead time); S the gamma quantile of that mean and spread",
        "abc_classes": MetadataValue.json(recs["abc_class"].value_counts().to_dict()),
        "xyz_classes": MetadataValue.json(recs["xyz_class"].value_counts().to_dict()),
        "demand_classes": MetadataValue.json(recs["demand_class"].value_counts().to_dict()),
        "incomplete_reasons": MetadataValue.md(
            "\n".join(f"- {r.item_id}: {r.missing}" for r in incomplete.itertuples()) or "none"
        ),
    }
