"""Evaluation: holdout accuracy of every model and the champion per item."""

import pandas as pd
import polars as pl
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from forecast_assets.clients import clients_partitions, validate_client_key
from forecast_assets.core.evaluation import choose_champions, evaluate_holdout, with_champions
from forecast_assets.defs.inputs import ForecastRunConfig, load_demand, resolve_as_of
from forecast_assets.resources.params import ForecastParams
from forecast_assets.resources.warehouse import TableWrite, Warehouse

FORECAST_TABLES = ("ml.chronos_forecast", "ml.baseline_forecast")
EVALUATION_SCHEMA = {
    "level": pl.Utf8,
    "model": pl.Utf8,
    "item_id": pl.Utf8,
    "n_obs": pl.Int64,
    "mae": pl.Float64,
    "rmse": pl.Float64,
    "bias": pl.Float64,
    "wape": pl.Float64,
    "mase": pl.Float64,
    "champion_reason": pl.Utf8,
    "is_champion": pl.Boolean,
}


def load_champions(warehouse: Warehouse, client_id: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """item_id -> champion_model for one client and origin."""
    return (
        warehouse.read_client(
            "ml.forecast_evaluation", client_id, "as_of = ? and is_champion", [as_of.date()]
        )
        .to_pandas()[["item_id", "model"]]
        .rename(columns={"model": "champion_model"})
    )


def load_forecasts(warehouse: Warehouse, client_id: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """Forecast and backtest rows of every model for one client and origin."""
    frames = [
        warehouse.read_client(table, client_id, "as_of = ?", [as_of.date()]).to_pandas()
        for table in FORECAST_TABLES
        if warehouse.table_exists(table)
    ]
    frames = [f for f in frames if not f.empty]
    if not frames:
        raise ValueError(f"no forecasts for client '{client_id}' at as_of {as_of.date()}")
    out = pd.concat(frames, ignore_index=True)
    out["date"] = pd.to_datetime(out["date"])
    return out


@asset(
    partitions_def=clients_partitions,
    group_name="evaluation",
    deps=[AssetKey("chronos_forecast"), AssetKey("baseline_forecast")],
    kinds={"pandas", "duckdb"},
)
def forecast_evaluation(
    context: AssetExecutionContext, config: ForecastRunConfig, warehouse: Warehouse, params: ForecastParams
) -> MaterializeResult:
    """Holdout WAPE, MAE, RMSE, bias and MASE per model, per item and overall, with the champion
    model of each item flagged (table ``ml.forecast_evaluation``)."""
    client_id = validate_client_key(context.partition_key)
    demand = load_demand(warehouse, client_id)
    as_of = resolve_as_of(config, demand)
    cutoff = as_of - pd.Timedelta(days=params.horizon)
    forecasts = load_forecasts(warehouse, client_id, as_of)
    backtest = forecasts[forecasts["kind"] == "backtest"]
    future = forecasts[forecasts["kind"] == "forecast"]
    accuracy = evaluate_holdout(backtest, demand, cutoff)
    available = future.groupby("item_id")["model"].apply(set).to_dict()
    champions = choose_champions(accuracy, sorted(demand["item_id"].unique()), available)
    table = (
        pl.from_pandas(with_champions(accuracy, champions))
        .cast(EVALUATION_SCHEMA)
        .with_columns(pl.lit(as_of.date()).alias("as_of"), pl.lit(cutoff.date()).alias("cutoff"))
    )
    warehouse.replace_client_rows(
        client_id, [TableWrite("ml.forecast_evaluation", table, {"as_of": as_of.date()})]
    )
    overall = accuracy[accuracy["level"] == "client"].set_index("model")[["wape", "mae", "mase"]].round(3)
    return MaterializeResult(
        metadata={
            "as_of": str(as_of.date()),
            "accuracy_by_model": MetadataValue.md(overall.to_markdown()),
            "champion_counts": MetadataValue.json(champions["champion_model"].value_counts().to_dict()),
        }
    )
