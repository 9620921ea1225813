"""Evaluation: rolling-origin accuracy of every model, the champion per item, live accuracy, drift.

One materialization per client and ``as_of`` scores the backtest windows both forecast assets
wrote, picks each item's champion with the champion-challenger rule, scores the forecasts of
earlier ``as_of`` dates against the actuals that arrived since, checks demand and residuals for
drift with Evidently, and logs all of it (tables, charts, drift report) to one MLflow run.
"""

import base64
import datetime as dt
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
from forecast_assets.core.evaluation.client import ClientEvaluation, evaluate_client, evaluation_window_start
from forecast_assets.core.evaluation.metrics import metric_columns
from forecast_assets.core.evaluation.report import (
    drift_check_metadata,
    evaluation_charts,
    evaluation_metrics,
    evaluation_run_params,
    evaluation_summary,
)
from forecast_assets.defs.inputs import (
    ForecastRunConfig,
    earlier_origins,
    last_date,
    load_champions,
    load_demand,
    load_earlier_forecasts,
    load_forecasts,
    load_seasonal_scales,
    previous_evaluation,
    resolve_as_of,
)
from forecast_assets.defs.partitions import ONE_CLIENT_PER_RUN, clients_partitions
from forecast_assets.resources.params import EvaluationParams, ForecastingParams
from forecast_assets.resources.tracking import MlflowTracking
from forecast_assets.resources.warehouse import TableWrite, Warehouse

METRICS = metric_columns()
ACCURACY_SCHEMA = {
    "level": pl.Utf8,
    "model": pl.Utf8,
    "item_id": pl.Utf8,
    "step": pl.Int64,
    "n_obs": pl.Int64,
    "n_items": pl.Int64,
    **dict.fromkeys(METRICS, pl.Float64),
    "fva": pl.Float64,
}
EVALUATION_SCHEMA = {**ACCURACY_SCHEMA, "champion_reason": pl.Utf8, "is_champion": pl.Boolean}
LIVE_SCHEMA = {"forecast_as_of": pl.Date, **ACCURACY_SCHEMA}
RUNS_TABLE = "ml.forecast_runs"
# Run tag of the runs `forecast-assets run --as-of-range` starts (cli.run_retrospective): their
# evaluations are recorded as retrospective, and the marts keep serving the latest other run.
RETROSPECTIVE_TAG = "forecast-assets/retrospective"


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
    backfill_policy=ONE_CLIENT_PER_RUN,
    group_name="evaluation",
    deps=[
        AssetKey("chronos_forecast"),
        AssetKey("baseline_forecast"),
        AssetKey("global_forecast"),
        AssetKey("ensemble_forecast"),
    ],
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
    forecasting_params: ForecastingParams,
    evaluation_params: EvaluationParams,
):
    """Rolling-origin accuracy per model, item, client and horizon step, champions, live accuracy
    and drift (tables ``ml.forecast_evaluation`` and ``ml.forecast_live_accuracy``), and the run in
    ``ml.forecast_runs`` (which as_of the marts serve)."""
    client_id = validate_client_key(context.partition_key)
    as_of = resolve_as_of(config, last_date(warehouse, client_id))
    previous = previous_evaluation(warehouse, client_id, as_of)
    forecasts = load_forecasts(warehouse, client_id, as_of)
    # Every origin scored: the backtest cutoffs and the earlier live origins that can have changed.
    earlier = earlier_origins(warehouse, client_id, as_of, since=previous)
    origins = [*pd.to_datetime(forecasts.loc[forecasts["kind"] == "backtest", "cutoff"].unique()), *earlier]
    since = evaluation_window_start(as_of, origins, evaluation_params.drift_recent_days)
    demand = load_demand(warehouse, client_id, until=as_of, since=since)
    rule = evaluation_params.champion_rule()
    evaluation = evaluate_client(
        demand,
        forecasts,
        load_earlier_forecasts(warehouse, client_id, as_of, earlier),
        # The incumbents a challenger must beat: the champions of that evaluation.
        load_champions(warehouse, client_id, previous)
        if previous is not None
        else pd.DataFrame(columns=["item_id", "champion_model"]),
        as_of,
        forecasting_params.quantile_levels,
        rule,
        evaluation_params.drift_recent_days,
        scales=load_seasonal_scales(warehouse, client_id, origins),
    )
    charts = evaluation_charts(client_id, demand, evaluation, evaluation_params.plot_top_items)
    params = evaluation_run_params(
        evaluation,
        forecasting_params.horizon,
        forecasting_params.quantile_levels,
        forecasting_params.backtest_step_days,
        rule,
    )
    with mlflow_tracking.asset_run("forecast_evaluation", client_id, as_of, context.run_id) as run:
        _log_evaluation(evaluation, params, charts)
        run_id = run.info.run_id  # written inside the run: a failed write marks it FAILED
        writes = _evaluation_writes(evaluation, forecasting_params.horizon, run_id)
        writes.append(run_record(as_of, context.run_id, context.run.tags.get(RETROSPECTIVE_TAG) == "true"))
        for write in writes:  # a warehouse built before n_items gets the column
            warehouse.add_missing_columns(write.table, write.frame)
        warehouse.replace_client_rows(client_id, writes)
    summary = evaluation_summary(evaluation)
    yield MaterializeResult(
        metadata={
            **summary,
            "accuracy_by_model": MetadataValue.md(summary["accuracy_by_model"]),
            "champion_counts": MetadataValue.json(summary["champion_counts"]),
            "fan_chart": _png_markdown(charts["fan_chart"], "fan chart"),
            "accuracy_chart": _png_markdown(charts["accuracy_by_model"], "accuracy by model"),
            "mlflow_run_id": run_id,
        }
    )
    for name, result in evaluation.drift.items():
        yield AssetCheckResult(
            check_name=name,
            passed=not result.drift_detected,
            severity=AssetCheckSeverity.WARN,
            metadata=drift_check_metadata(name, result, run_id),
        )


def _log_evaluation(evaluation: ClientEvaluation, params: dict, charts: dict[str, bytes]) -> None:
    """Params, metrics, charts, drift reports and both tables, in the active MLflow run."""
    import mlflow

    mlflow.log_params(params)
    mlflow.log_metrics(evaluation_metrics(evaluation, METRICS))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, png in charts.items():
            (folder / f"{name}.png").write_bytes(png)
        for name, result in evaluation.drift.items():
            (folder / f"{name}.json").write_text(json.dumps(result.summary, indent=2, default=str))
            if result.html:
                (folder / f"{name}.html").write_text(result.html)
        evaluation.table.to_parquet(folder / "forecast_evaluation.parquet", index=False)
        if not evaluation.live.empty:
            evaluation.live.to_parquet(folder / "forecast_live_accuracy.parquet", index=False)
        mlflow.log_artifacts(str(folder), "evaluation")


def run_record(as_of: pd.Timestamp, dagster_run_id: str, retrospective: bool) -> TableWrite:
    """The row of ``ml.forecast_runs`` for this evaluation, written in the same transaction as the
    evaluation: the marts serve the as_of of a client's latest non-retrospective row (by
    ``evaluated_at``, UTC), so a run for an earlier as_of that fixes a wrong future date is served,
    and a retrospective run never displaces it. Scoped by the Dagster run: a retried step replaces
    its own row."""
    row = pl.DataFrame(
        {
            "as_of": [as_of.date()],
            "evaluated_at": [dt.datetime.now(dt.UTC).replace(tzinfo=None)],
            "retrospective": [retrospective],
            "dagster_run_id": [dagster_run_id],
        },
        schema={"as_of": pl.Date, "evaluated_at": pl.Datetime("us"), "retrospective": pl.Boolean}
        | {"dagster_run_id": pl.Utf8},
    )
    return TableWrite(RUNS_TABLE, row, {"dagster_run_id": dagster_run_id})


def _evaluation_writes(evaluation: ClientEvaluation, horizon: int, run_id: str) -> list[TableWrite]:
    """Both tables typed for the warehouse, stamped with the origin and the MLflow run."""
    as_of = evaluation.as_of
    table = _typed(evaluation.table, EVALUATION_SCHEMA).with_columns(
        pl.lit(as_of.date()).alias("as_of"),
        pl.lit((as_of - pd.Timedelta(days=horizon)).date()).alias("cutoff"),
        pl.lit(len(evaluation.backtest_cutoffs)).alias("backtest_windows"),
        pl.lit(run_id).alias("mlflow_run_id"),
    )
    live = evaluation.live
    live_rows = live.rename(columns={"as_of": "forecast_as_of"}) if not live.empty else pd.DataFrame()
    live_table = _typed(live_rows, LIVE_SCHEMA).with_columns(pl.lit(as_of.date()).alias("as_of"))
    return [
        TableWrite("ml.forecast_evaluation", table, {"as_of": as_of.date()}),
        TableWrite("ml.forecast_live_accuracy", live_table, {"as_of": as_of.date()}),
    ]
