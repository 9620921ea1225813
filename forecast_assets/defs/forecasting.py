"""Forecasting assets: Chronos-2 (GPU-tagged) and the statsforecast baselines.

Each writes one table with the future forecast (``kind='forecast'``, from ``as_of``) and its
holdout backtest (``kind='backtest'``, from ``as_of - horizon``), replacing the rows of the same
client and ``as_of``; history of other origins accumulates.
"""

import hashlib
import tempfile
import time
from pathlib import Path

import pandas as pd
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
from forecast_assets.core.forecasting.backtest import backtest_cutoffs
from forecast_assets.core.forecasting.baselines import forecast_baselines
from forecast_assets.core.forecasting.chronos_model import ModelUnavailable, model_name, supports_covariates
from forecast_assets.core.forecasting.chronos_stream import forecast_rows, stream_forecasts
from forecast_assets.core.forecasting.frame import forecast_problems, to_forecast_table
from forecast_assets.defs.inputs import (
    ForecastRunConfig,
    client_items,
    date_bounds,
    load_calendar,
    load_demand,
    load_events,
    resolve_as_of,
)
from forecast_assets.defs.partitions import clients_partitions
from forecast_assets.resources.chronos import ChronosModel
from forecast_assets.resources.params import ForecastParams
from forecast_assets.resources.tracking import MlflowTracking
from forecast_assets.resources.warehouse import TableWrite, Warehouse

# On Kubernetes (k8s_job_executor) the Chronos step's pod asks for one GPU and lands on a GPU node:
# the node selector is the label NVIDIA's GPU feature discovery sets, the toleration admits the
# usual GPU-node taint. Clusters labelled otherwise override both with per_step_k8s_config.
GPU_OP_TAGS = {
    "dagster-k8s/config": {
        "container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}}},
        "pod_spec_config": {
            "node_selector": {"nvidia.com/gpu.present": "true"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        },
    }
}
MODELLED = [AssetKey("ts_demand_daily"), AssetKey("covariate_calendar")]


def fingerprint(frame: pd.DataFrame) -> str:
    """A short content hash of the input data, logged with the run for traceability."""
    hashed = pd.util.hash_pandas_object(frame.sort_values(["item_id", "date"]), index=False)
    return hashlib.sha256(hashed.to_numpy().tobytes()).hexdigest()[:16]


def _sanity_check(name: str, asset: str, future: pd.DataFrame, items: set[str], params: ForecastParams):
    """Every model's rows are sane for the items it covers, and every item has some forecast."""
    problems = []
    for model, group in future.groupby("model"):
        covered = set(group["item_id"])
        problems += [
            f"{model}: {p}" for p in forecast_problems(group, covered, params.horizon, params.quantile_levels)
        ]
    uncovered = items - set(future["item_id"])
    if uncovered:
        problems.append(f"{len(uncovered)} items have no forecast, e.g. {sorted(uncovered)[:3]}")
    return AssetCheckResult(
        check_name=name,
        asset_key=asset,
        passed=not problems,
        metadata={"problems": "; ".join(problems) or "none", "rows": len(future)},
    )


@asset(
    partitions_def=clients_partitions,
    group_name="forecasting",
    deps=[*MODELLED, AssetKey("raw_events")],
    pool="gpu",
    op_tags=GPU_OP_TAGS,
    kinds={"pytorch", "duckdb"},
    check_specs=[
        AssetCheckSpec(
            "chronos_model_available",
            asset="chronos_forecast",
            description="The Chronos model loaded and produced forecasts.",
        ),
        AssetCheckSpec(
            "chronos_forecast_sane",
            asset="chronos_forecast",
            description="No NaN, non-negative, ordered quantiles, full horizon for every forecast item.",
        ),
    ],
)
def chronos_forecast(
    context: AssetExecutionContext,
    config: ForecastRunConfig,
    warehouse: Warehouse,
    chronos: ChronosModel,
    mlflow_tracking: MlflowTracking,
    params: ForecastParams,
):
    """Chronos-2 probabilistic forecasts with covariates (table ``ml.chronos_forecast``).

    Items stream through in slices (``CHRONOS_CHUNK_ITEMS``): each slice is read, checked,
    forecast from ``as_of`` and from every backtest cutoff, and spooled to Parquet, so memory
    stays flat as a client grows. The spooled rows replace the client's rows for ``as_of`` in
    one transaction at the end: a failed run leaves the previous forecast in place. Items too
    short or with no observed demand go to the baselines, their reason in ``ml.forecast_exclusions``.
    """
    client_id = validate_client_key(context.partition_key)
    as_of, origins = origins_for(warehouse, client_id, config, params)
    try:
        pipeline = chronos.pipeline()
    except ModelUnavailable as exc:
        if chronos.required:
            raise
        context.log.warning(f"{exc} Continuing with the baselines (CHRONOS_REQUIRED=true makes this fatal).")
        warehouse.replace_client_rows(
            client_id,
            [
                TableWrite(
                    "ml.chronos_forecast",
                    to_forecast_table(None, params.quantile_levels),
                    {"as_of": as_of.date()},
                )
            ],
        )
        yield MaterializeResult(
            metadata={
                "model_status": "unavailable",
                "model_id": chronos.model_id,
                "cause": str(exc),
                "as_of": str(as_of.date()),
                "rows": 0,
            }
        )
        yield AssetCheckResult(
            check_name="chronos_model_available",
            passed=False,
            severity=AssetCheckSeverity.WARN,
            metadata={"cause": str(exc)},
        )
        yield AssetCheckResult(
            check_name="chronos_forecast_sane",
            passed=True,
            metadata={"problems": "no forecast written (model unavailable)"},
        )
        return

    if not supports_covariates(pipeline):
        context.log.info(f"{chronos.model_id} is univariate: the covariates are not passed to it.")
    items = client_items(warehouse, client_id, as_of)
    horizon_end = as_of + pd.Timedelta(days=params.horizon)

    def read_chunk(chunk: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        return (
            load_demand(warehouse, client_id, until=as_of, items=chunk),
            load_calendar(warehouse, client_id, until=horizon_end, items=chunk),
        )

    started = time.perf_counter()
    with (
        mlflow_tracking.run(
            client_id,
            f"chronos_forecast {as_of.date()}",
            {"asset": "chronos_forecast", "client_id": client_id, "dagster_run_id": context.run_id},
        ) as run,
        tempfile.TemporaryDirectory(prefix="chronos-spool-") as spool,
    ):
        import mlflow

        stream = stream_forecasts(
            pipeline,
            read_chunk,
            items,
            origins,
            Path(spool),
            client_id=client_id,
            as_of=as_of,
            horizon=params.horizon,
            quantiles=params.quantile_levels,
            model_id=chronos.model_id,
            chunk_items=chronos.chunk_items,
            batch_size=chronos.batch_size,
            context_length=chronos.context_length,
            cross_learning=chronos.cross_learning,
            min_history=params.min_history_days,
            events=load_events(warehouse, client_id),
            run_id=run.info.run_id,
            log=context.log.info,
        )
        mlflow.log_params(
            {
                "model_id": chronos.model_id,
                "model": model_name(pipeline),
                "dtype": chronos.dtype,
                "device": chronos.device,
                "cross_learning": chronos.cross_learning,
                "horizon": params.horizon,
                "quantiles": ",".join(map(str, params.quantile_levels)),
                "context_length": chronos.context_length,
                "as_of": str(as_of.date()),
                "backtest_cutoffs": ",".join(str(c.date()) for _, c in origins[1:]),
                "items": len(items),
                "items_excluded": len(stream.excluded_items),
                "covariates": ",".join(stream.covariates) if supports_covariates(pipeline) else "",
                "input_fingerprint": stream.fingerprint,
            }
        )
        mlflow.log_artifacts(spool, "chronos_forecast")
        written = warehouse.replace_client_rows(
            client_id,
            [
                TableWrite(
                    "ml.chronos_forecast",
                    None if stream.files else to_forecast_table(None, params.quantile_levels),
                    {"as_of": as_of.date()},
                    files=stream.files,
                ),
                TableWrite("ml.forecast_exclusions", stream.exclusion_table(), {"as_of": as_of.date()}),
            ],
        )
    seconds = time.perf_counter() - started
    excluded = stream.excluded_items
    yield MaterializeResult(
        metadata={
            "model_status": "ok",
            "model_id": chronos.model_id,
            "as_of": str(as_of.date()),
            "items": len(items),
            "items_excluded": len(excluded),
            "exclusions": MetadataValue.md(
                "\n".join(f"- {i}: {r}" for i, r in sorted(excluded.items())[:20]) or "none"
            ),
            "chunks": stream.chunks,
            "rows": written["ml.chronos_forecast"],
            "series_per_second": round(stream.series / seconds, 2) if seconds else 0.0,
            "model_share_of_time": round(stream.model_seconds / seconds, 3) if seconds else 0.0,
            "mlflow_run_id": run.info.run_id,
        }
    )
    yield AssetCheckResult(
        check_name="chronos_model_available", passed=True, metadata={"model_id": chronos.model_id}
    )
    problems = list(stream.problems)
    uncovered = set(items) - stream.covered - set(excluded)
    if uncovered:
        problems.append(f"{len(uncovered)} items have no forecast, e.g. {sorted(uncovered)[:3]}")
    yield AssetCheckResult(
        check_name="chronos_forecast_sane",
        passed=not problems,
        metadata={"problems": "; ".join(problems) or "none", "items_forecast": len(stream.covered)},
    )


def origins_for(
    warehouse: Warehouse, client_id: str, config: ForecastRunConfig, params: ForecastParams
) -> tuple[pd.Timestamp, list[tuple[str, pd.Timestamp]]]:
    """``as_of`` and the origins both forecast assets forecast from: ``as_of`` itself and the
    rolling backtest cutoffs (the same for every model, so their scores compare)."""
    first, last = date_bounds(warehouse, client_id)
    as_of = resolve_as_of(config, last)
    cutoffs = backtest_cutoffs(
        as_of,
        params.horizon,
        params.backtest_windows,
        params.backtest_step_days,
        first_date=first,
        min_train_days=params.min_history_days,
    )
    return as_of, [("forecast", as_of)] + [("backtest", c) for c in reversed(cutoffs)]


@asset(
    partitions_def=clients_partitions,
    group_name="forecasting",
    deps=[AssetKey("ts_demand_daily")],
    kinds={"statsforecast", "duckdb"},
    check_specs=[
        AssetCheckSpec(
            "baseline_forecast_sane",
            asset="baseline_forecast",
            description="No NaN, non-negative, ordered quantiles, full horizon for every item.",
        )
    ],
)
def baseline_forecast(
    context: AssetExecutionContext,
    config: ForecastRunConfig,
    warehouse: Warehouse,
    mlflow_tracking: MlflowTracking,
    params: ForecastParams,
):
    """statsforecast baselines (table ``ml.baseline_forecast``), from ``as_of`` and every backtest cutoff.

    Seasonal naive, AutoETS, AutoTheta and a 7-day moving average for every item with enough
    history, Croston SBA for intermittent and lumpy items, a historic average for short ones.
    """
    client_id = validate_client_key(context.partition_key)
    as_of, origins = origins_for(warehouse, client_id, config, params)
    demand = load_demand(warehouse, client_id, until=as_of)
    with mlflow_tracking.run(
        client_id,
        f"baseline_forecast {as_of.date()}",
        {"asset": "baseline_forecast", "client_id": client_id, "dagster_run_id": context.run_id},
    ) as run:
        import mlflow

        parts, future = [], None
        for kind, cutoff in origins:
            result = forecast_baselines(
                demand,
                cutoff,
                params.horizon,
                params.quantile_levels,
                params.min_history_days,
                n_jobs=params.baseline_n_jobs,
            )
            if kind == "forecast":
                future = result
            if result.forecasts.empty:
                continue
            rows = forecast_rows(result.forecasts, as_of, kind, cutoff, "statsforecast", run.info.run_id)
            rows["model_id"] = "statsforecast/" + rows["model"]
            parts.append(rows)
        rows = pd.concat(parts, ignore_index=True)
        models = sorted(future.forecasts["model"].unique())
        mlflow.log_params(
            {
                "models": ",".join(models),
                "horizon": params.horizon,
                "as_of": str(as_of.date()),
                "backtest_cutoffs": ",".join(str(c.date()) for _, c in origins[1:]),
                "items": demand["item_id"].nunique(),
                "input_fingerprint": fingerprint(demand),
            }
        )
        mlflow_tracking.log_frame(rows, "baseline_forecast")
    for item, reason in future.skipped.items():
        context.log.info(f"item {item}: {reason}")
    warehouse.replace_client_rows(
        client_id,
        [
            TableWrite(
                "ml.baseline_forecast",
                to_forecast_table(rows, params.quantile_levels),
                {"as_of": as_of.date()},
            )
        ],
    )
    yield MaterializeResult(
        metadata={
            "as_of": str(as_of.date()),
            "rows": len(rows),
            "models": ", ".join(models),
            "demand_classes": MetadataValue.json(future.demand_classes),
            "items_short_history": len(future.skipped),
            "mlflow_run_id": run.info.run_id,
        }
    )
    yield _sanity_check(
        "baseline_forecast_sane", "baseline_forecast", future.forecasts, set(demand["item_id"]), params
    )
