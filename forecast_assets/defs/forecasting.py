"""Forecasting assets: Chronos-2 (GPU-tagged) and the statsforecast baselines.

Each writes one table with the future forecast (``kind='forecast'``, from ``as_of``) and its
holdout backtest (``kind='backtest'``, from ``as_of - horizon``), replacing the rows of the same
client and ``as_of``; history of other origins accumulates.
"""

import hashlib

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    asset,
)

from forecast_assets.clients import clients_partitions, validate_client_key
from forecast_assets.core.baselines import forecast_baselines
from forecast_assets.core.chronos_model import ModelUnavailable, build_frames, model_name, predict
from forecast_assets.core.forecast_frame import forecast_problems, to_forecast_table
from forecast_assets.defs.inputs import ForecastRunConfig, load_calendar, load_demand, resolve_as_of
from forecast_assets.resources.chronos import ChronosModel
from forecast_assets.resources.params import ForecastParams
from forecast_assets.resources.tracking import MlflowTracking
from forecast_assets.resources.warehouse import TableWrite, Warehouse

GPU_OP_TAGS = {"dagster-k8s/config": {"container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}}}}}
MODELLED = [AssetKey("ts_demand_daily"), AssetKey("covariate_calendar")]


def fingerprint(frame: pd.DataFrame) -> str:
    """A short content hash of the input data, logged with the run for traceability."""
    hashed = pd.util.hash_pandas_object(frame.sort_values(["item_id", "date"]), index=False)
    return hashlib.sha256(hashed.to_numpy().tobytes()).hexdigest()[:16]


def _rows(
    frame: pd.DataFrame, as_of: pd.Timestamp, kind: str, cutoff: pd.Timestamp, model_id: str
) -> pd.DataFrame:
    out = frame.copy()
    out.insert(0, "as_of", as_of.date())
    out.insert(1, "kind", kind)
    out.insert(2, "cutoff", cutoff.date())
    out["model_id"] = model_id
    out["date"] = out["date"].dt.date
    return out


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
    deps=MODELLED,
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
            description="No NaN, non-negative, ordered quantiles, full horizon for every item.",
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
    """Chronos-2 probabilistic forecasts (table ``ml.chronos_forecast``), with covariates."""
    client_id = validate_client_key(context.partition_key)
    demand = load_demand(warehouse, client_id)
    calendar = load_calendar(warehouse, client_id)
    as_of = resolve_as_of(config, demand)
    cutoff = as_of - pd.Timedelta(days=params.horizon)
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

    name = model_name(chronos.model_id)
    kwargs = dict(
        horizon=params.horizon,
        quantiles=params.quantile_levels,
        batch_size=chronos.batch_size,
        context_length=chronos.context_length,
        model=name,
    )
    future = predict(pipeline, build_frames(demand, calendar, as_of, params.horizon), as_of, **kwargs)
    backtest_items = demand.loc[demand["date"] <= cutoff, "item_id"].unique()
    backtest_demand = demand[demand["item_id"].isin(backtest_items)]
    backtest = predict(
        pipeline, build_frames(backtest_demand, calendar, cutoff, params.horizon), cutoff, **kwargs
    )

    with mlflow_tracking.run(
        client_id,
        f"chronos_forecast {as_of.date()}",
        {"asset": "chronos_forecast", "client_id": client_id, "dagster_run_id": context.run_id},
    ) as run:
        import mlflow

        mlflow.log_params(
            {
                "model_id": chronos.model_id,
                "dtype": chronos.dtype,
                "device": chronos.device,
                "horizon": params.horizon,
                "quantiles": ",".join(map(str, params.quantile_levels)),
                "context_length": chronos.context_length,
                "as_of": str(as_of.date()),
                "items": demand["item_id"].nunique(),
                "input_fingerprint": fingerprint(demand),
            }
        )
        rows = pd.concat(
            [
                _rows(future, as_of, "forecast", as_of, chronos.model_id),
                _rows(backtest, as_of, "backtest", cutoff, chronos.model_id),
            ],
            ignore_index=True,
        )
        rows["mlflow_run_id"] = run.info.run_id
        mlflow_tracking.log_frame(rows, "chronos_forecast")
    warehouse.replace_client_rows(
        client_id,
        [
            TableWrite(
                "ml.chronos_forecast",
                to_forecast_table(rows, params.quantile_levels),
                {"as_of": as_of.date()},
            )
        ],
    )
    yield MaterializeResult(
        metadata={
            "model_status": "ok",
            "model_id": chronos.model_id,
            "as_of": str(as_of.date()),
            "items": int(future["item_id"].nunique()),
            "rows": len(rows),
            "mlflow_run_id": run.info.run_id,
        }
    )
    yield AssetCheckResult(
        check_name="chronos_model_available", passed=True, metadata={"model_id": chronos.model_id}
    )
    yield _sanity_check("chronos_forecast_sane", "chronos_forecast", future, set(demand["item_id"]), params)


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
    """statsforecast baselines (table ``ml.baseline_forecast``): seasonal naive, AutoETS, 7-day MA."""
    client_id = validate_client_key(context.partition_key)
    demand = load_demand(warehouse, client_id)
    as_of = resolve_as_of(config, demand)
    cutoff = as_of - pd.Timedelta(days=params.horizon)
    future = forecast_baselines(
        demand, as_of, params.horizon, params.quantile_levels, params.min_history_days
    )
    backtest = forecast_baselines(
        demand, cutoff, params.horizon, params.quantile_levels, params.min_history_days
    )
    for item, reason in future.skipped.items():
        context.log.info(f"item {item}: {reason}")
    with mlflow_tracking.run(
        client_id,
        f"baseline_forecast {as_of.date()}",
        {"asset": "baseline_forecast", "client_id": client_id, "dagster_run_id": context.run_id},
    ) as run:
        import mlflow

        mlflow.log_params(
            {
                "models": ",".join(sorted(future.forecasts["model"].unique())),
                "horizon": params.horizon,
                "as_of": str(as_of.date()),
                "items": demand["item_id"].nunique(),
                "input_fingerprint": fingerprint(demand),
            }
        )
        rows = pd.concat(
            [
                _rows(future.forecasts, as_of, "forecast", as_of, "statsforecast"),
                _rows(backtest.forecasts, as_of, "backtest", cutoff, "statsforecast"),
            ],
            ignore_index=True,
        )
        rows["model_id"] = "statsforecast/" + rows["model"]
        rows["mlflow_run_id"] = run.info.run_id
        mlflow_tracking.log_frame(rows, "baseline_forecast")
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
            "models": ", ".join(sorted(future.forecasts["model"].unique())),
            "items_short_history": len(future.skipped),
            "mlflow_run_id": run.info.run_id,
        }
    )
    yield _sanity_check(
        "baseline_forecast_sane", "baseline_forecast", future.forecasts, set(demand["item_id"]), params
    )
