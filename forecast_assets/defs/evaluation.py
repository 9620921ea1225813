"""Evaluation: rolling-origin accuracy of every model, the champion per item, live accuracy, drift.

One materialization per client and ``as_of`` scores the backtest windows both forecast assets
wrote, picks each item's champion with the champion-challenger rule, scores the forecasts of
earlier ``as_of`` dates against the actuals that arrived since, checks demand and residuals for
drift with Evidently, and logs all of it (tables, charts, drift report) to one MLflow run.
"""

import base64
import json
import tempfile
from pathlib import Path

import pandas as pd
import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
)

from forecast_assets.core.clients import validate_client_key
from forecast_assets.core.evaluation.drift import demand_drift, residual_drift
from forecast_assets.core.evaluation.metrics import accuracy_by_level, metric_columns
from forecast_assets.core.evaluation.plots import accuracy_bar_chart, fan_chart
from forecast_assets.core.evaluation.scoring import (
    choose_champions,
    choose_client_champions,
    forecast_value_added,
    live_accuracy,
    scored_rows,
    with_champions,
)
from forecast_assets.defs.inputs import ForecastRunConfig, last_date, load_demand, resolve_as_of
from forecast_assets.defs.partitions import clients_partitions
from forecast_assets.resources.params import ForecastParams
from forecast_assets.resources.tracking import MlflowTracking
from forecast_assets.resources.warehouse import TableWrite, Warehouse

FORECAST_TABLES = ("ml.chronos_forecast", "ml.baseline_forecast")
METRICS = metric_columns()
ACCURACY_SCHEMA = {
    "level": pl.Utf8,
    "model": pl.Utf8,
    "item_id": pl.Utf8,
    "step": pl.Int64,
    "n_obs": pl.Int64,
    **dict.fromkeys(METRICS, pl.Float64),
    "fva": pl.Float64,
}
EVALUATION_SCHEMA = {**ACCURACY_SCHEMA, "champion_reason": pl.Utf8, "is_champion": pl.Boolean}
LIVE_SCHEMA = {"forecast_as_of": pl.Date, **ACCURACY_SCHEMA}


def load_champions(warehouse: Warehouse, client_id: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """item_id -> champion_model for one client and origin."""
    return (
        warehouse.read_client(
            "ml.forecast_evaluation", client_id, "as_of = ? and is_champion", [as_of.date()]
        )
        .to_pandas()[["item_id", "model"]]
        .rename(columns={"model": "champion_model"})
    )


def previous_champions(warehouse: Warehouse, client_id: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """The champions of the latest evaluation before ``as_of``: the incumbents a challenger must beat."""
    if not warehouse.table_exists("ml.forecast_evaluation"):
        return pd.DataFrame(columns=["item_id", "champion_model"])
    found = warehouse.query(
        "select max(as_of) as previous from ml.forecast_evaluation where client_id = ? and as_of < ?",
        [client_id, as_of.date()],
    )
    previous = found["previous"][0] if found.height else None
    if previous is None:
        return pd.DataFrame(columns=["item_id", "champion_model"])
    return load_champions(warehouse, client_id, pd.Timestamp(previous))


def _read_forecasts(warehouse: Warehouse, client_id: str, where: str, params: list) -> pd.DataFrame:
    frames = [
        warehouse.read_client(table, client_id, where, params).to_pandas()
        for table in FORECAST_TABLES
        if warehouse.table_exists(table)
    ]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    for column in ("date", "cutoff", "as_of"):
        out[column] = pd.to_datetime(out[column])
    return out


def load_forecasts(warehouse: Warehouse, client_id: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """Forecast and backtest rows of every model for one client and origin."""
    out = _read_forecasts(warehouse, client_id, "as_of = ?", [as_of.date()])
    if out.empty:
        raise ValueError(f"no forecasts for client '{client_id}' at as_of {as_of.date()}")
    return out


def load_earlier_forecasts(warehouse: Warehouse, client_id: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """Live forecasts made at earlier origins whose dates now have actuals (up to ``as_of``)."""
    return _read_forecasts(
        warehouse, client_id, "kind = 'forecast' and as_of < ? and date <= ?", [as_of.date(), as_of.date()]
    )


def _png_markdown(png: bytes, alt: str) -> MetadataValue:
    """A PNG shown inline in the Dagster UI (markdown image with a data URI)."""
    return MetadataValue.md(f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})")


def _typed(frame: pd.DataFrame, schema: dict) -> pl.DataFrame:
    for column in schema:
        if column not in frame:
            frame[column] = None
    return pl.from_pandas(frame[list(schema)]).cast(schema)


@asset(
    partitions_def=clients_partitions,
    group_name="evaluation",
    deps=[AssetKey("chronos_forecast"), AssetKey("baseline_forecast")],
    kinds={"pandas", "evidently", "mlflow"},
    check_specs=[
        AssetCheckSpec(
            "demand_drift", asset="forecast_evaluation", description="Recent demand vs the window before."
        ),
        AssetCheckSpec(
            "residual_drift",
            asset="forecast_evaluation",
            description="Recent forecast errors vs the ones before.",
        ),
    ],
)
def forecast_evaluation(
    context: AssetExecutionContext,
    config: ForecastRunConfig,
    warehouse: Warehouse,
    mlflow_tracking: MlflowTracking,
    params: ForecastParams,
):
    """Rolling-origin accuracy per model, item, client and horizon step, champions, live accuracy
    and drift (tables ``ml.forecast_evaluation`` and ``ml.forecast_live_accuracy``)."""
    client_id = validate_client_key(context.partition_key)
    as_of = resolve_as_of(config, last_date(warehouse, client_id))
    demand = load_demand(warehouse, client_id, until=as_of)
    quantiles = params.quantile_levels
    forecasts = load_forecasts(warehouse, client_id, as_of)
    backtest = forecasts[forecasts["kind"] == "backtest"]
    future = forecasts[forecasts["kind"] == "forecast"]

    # Scored once: the accuracy table and the residual drift check read the same rows.
    scored = scored_rows(backtest, demand, quantiles)
    accuracy = accuracy_by_level(scored, quantiles)
    fva = forecast_value_added(accuracy, params.champion_metric, levels=("item", "client", "step"))
    accuracy["fva"] = fva["fva"].to_numpy() if len(fva) == len(accuracy) else float("nan")
    incumbents = previous_champions(warehouse, client_id, as_of)
    available = future.groupby("item_id")["model"].apply(set).to_dict()
    choose = choose_client_champions if params.champion_scope == "client" else choose_champions
    champions = choose(
        accuracy,
        sorted(demand["item_id"].unique()),
        available,
        metric=params.champion_metric,
        incumbents=incumbents,
        margin=params.champion_margin,
    )
    earlier = load_earlier_forecasts(warehouse, client_id, as_of)
    live = live_accuracy(earlier, demand, quantiles) if not earlier.empty else pd.DataFrame()

    demand_check = demand_drift(demand, as_of, recent_days=params.drift_recent_days)
    residual_check = residual_drift(scored, recent_days=params.drift_recent_days)
    client_rows = accuracy[accuracy["level"] == "client"].set_index("model")
    champion_future = future.merge(
        champions[["item_id", "champion_model"]],
        left_on=["item_id", "model"],
        right_on=["item_id", "champion_model"],
    )
    fan_png = fan_chart(
        demand, champion_future, top_n=params.plot_top_items, title=f"{client_id}: champion forecast"
    )
    accuracy_png = accuracy_bar_chart(accuracy, title=f"{client_id}: backtest accuracy by model")

    with (
        mlflow_tracking.run(
            client_id,
            f"forecast_evaluation {as_of.date()}",
            {"asset": "forecast_evaluation", "client_id": client_id, "dagster_run_id": context.run_id},
        ) as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        import mlflow

        mlflow.log_params(
            {
                "as_of": str(as_of.date()),
                "horizon": params.horizon,
                "quantiles": ",".join(map(str, quantiles)),
                "backtest_windows": int(backtest["cutoff"].nunique()),
                "backtest_step_days": params.backtest_step_days,
                "champion_metric": params.champion_metric,
                "champion_margin": params.champion_margin,
                "champion_scope": params.champion_scope,
                "models": ",".join(sorted(forecasts["model"].unique())),
            }
        )
        for model, row in client_rows.iterrows():
            mlflow.log_metrics({f"{m}_{model}": float(row[m]) for m in METRICS if pd.notna(row[m])})
        mlflow.log_metrics(
            {
                "demand_drift_share": float(demand_check.summary.get("share_drifted", 0.0) or 0.0),
                "residual_drift_share": float(residual_check.summary.get("share_drifted", 0.0) or 0.0),
            }
        )
        folder = Path(tmp)
        (folder / "fan_chart.png").write_bytes(fan_png)
        (folder / "accuracy_by_model.png").write_bytes(accuracy_png)
        for name, check in (("demand_drift", demand_check), ("residual_drift", residual_check)):
            (folder / f"{name}.json").write_text(json.dumps(check.summary, indent=2, default=str))
            if check.html:
                (folder / f"{name}.html").write_text(check.html)
        table = with_champions(accuracy, champions)
        table.to_parquet(folder / "forecast_evaluation.parquet", index=False)
        if not live.empty:
            live.to_parquet(folder / "forecast_live_accuracy.parquet", index=False)
        mlflow.log_artifacts(str(folder), "evaluation")

    evaluation = _typed(table, EVALUATION_SCHEMA).with_columns(
        pl.lit(as_of.date()).alias("as_of"),
        pl.lit((as_of - pd.Timedelta(days=params.horizon)).date()).alias("cutoff"),
        pl.lit(int(backtest["cutoff"].nunique())).alias("backtest_windows"),
        pl.lit(run.info.run_id).alias("mlflow_run_id"),
    )
    live_rows = live.rename(columns={"as_of": "forecast_as_of"}) if not live.empty else pd.DataFrame()
    live_table = _typed(live_rows, LIVE_SCHEMA).with_columns(pl.lit(as_of.date()).alias("as_of"))
    warehouse.replace_client_rows(
        client_id,
        [
            TableWrite("ml.forecast_evaluation", evaluation, {"as_of": as_of.date()}),
            TableWrite("ml.forecast_live_accuracy", live_table, {"as_of": as_of.date()}),
        ],
    )

    overall = client_rows[["wape", "mase", "wql", "coverage_80", "fva"]].round(3)
    yield MaterializeResult(
        metadata={
            "as_of": str(as_of.date()),
            "backtest_cutoffs": ", ".join(str(c.date()) for c in sorted(backtest["cutoff"].unique())),
            "accuracy_by_model": MetadataValue.md(overall.to_markdown()),
            "champion_counts": MetadataValue.json(champions["champion_model"].value_counts().to_dict()),
            "champion_changes": int(
                (
                    champions["previous_champion"].notna()
                    & (champions["previous_champion"] != champions["champion_model"])
                ).sum()
            ),
            "live_origins_scored": int(live["as_of"].nunique()) if not live.empty else 0,
            "fan_chart": _png_markdown(fan_png, "fan chart"),
            "accuracy_chart": _png_markdown(accuracy_png, "accuracy by model"),
            "mlflow_run_id": run.info.run_id,
        }
    )
    for name, check in (("demand_drift", demand_check), ("residual_drift", residual_check)):
        summary = check.summary
        yield AssetCheckResult(
            check_name=name,
            passed=not check.drift_detected,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "status": str(summary.get("status", "")),
                "share_drifted": float(summary.get("share_drifted", 0.0) or 0.0),
                "drifted_columns": ", ".join(
                    c for c, v in (summary.get("columns") or {}).items() if v.get("drifted")
                )
                or "none",
                "reason": str(summary.get("reason", "")),
                "report": f"MLflow run {run.info.run_id}, artifact evaluation/{name}.html",
            },
        )
