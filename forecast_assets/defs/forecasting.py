"""Forecasting assets: Chronos-2 (GPU-tagged), the statsforecast baselines, the global LightGBM
model, and the ensembles of their forecasts.

Each writes one table with the future forecast (``kind='forecast'``, from ``as_of``) and its
holdout backtest (``kind='backtest'``, from ``as_of - horizon``), replacing the rows of the same
client and ``as_of``; history of other origins accumulates.
"""

import tempfile
import time
from collections.abc import Sequence
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
from forecast_assets.core.forecasting.backtest import backtest_cutoffs
from forecast_assets.core.forecasting.baselines import (
    baseline_inputs,
    baseline_spec,
    forecast_baselines_from_origins,
    history_start,
)
from forecast_assets.core.forecasting.chronos_model import ModelUnavailable, model_name, supports_covariates
from forecast_assets.core.forecasting.chronos_stream import (
    ChunkReader,
    StreamResult,
    StreamSpec,
    stream_forecasts,
)
from forecast_assets.core.forecasting.ensemble import ensembles
from forecast_assets.core.forecasting.frame import forecast_table_schema, to_forecast_table
from forecast_assets.core.forecasting.global_model import (
    ClientFrames,
    GlobalModelConfig,
    GlobalResult,
    calibration_rows,
    config_params,
    cost_metrics,
    forecast_global_from_origins,
    member_rows,
)
from forecast_assets.core.forecasting.report import (
    baseline_run_params,
    chronos_metadata,
    chronos_run_params,
    model_problems,
    stream_problems,
)
from forecast_assets.core.forecasting.reuse import (
    OriginPlan,
    as_backtest,
    demand_fingerprints,
    origin_rows,
    plan_origins,
)
from forecast_assets.defs.inputs import (
    CALIBRATION_TABLE,
    MEMBERS_TABLE,
    MODEL_TABLES,
    ORIGINS_TABLE,
    ForecastRunConfig,
    calibration_lookup,
    client_items,
    date_bounds,
    load_calendar,
    load_categories,
    load_demand,
    load_events,
    load_forecasts,
    resolve_as_of,
    stored_origin_rows,
    stored_origins,
)
from forecast_assets.defs.partitions import ONE_CLIENT_PER_RUN, clients_partitions
from forecast_assets.resources.chronos import ChronosModel
from forecast_assets.resources.params import ForecastingParams
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


@asset(
    partitions_def=clients_partitions,
    backfill_policy=ONE_CLIENT_PER_RUN,
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
    forecasting_params: ForecastingParams,
):
    """Chronos-2 probabilistic forecasts with covariates (table ``ml.chronos_forecast``).

    Items stream through in slices (``CHRONOS_CHUNK_ITEMS``): each slice is read, checked,
    forecast from ``as_of`` and from every backtest cutoff, and spooled to Parquet, so memory
    stays flat as a client grows. The spooled rows replace the client's rows for ``as_of`` in
    one transaction at the end: a failed run leaves the previous forecast in place. Items too
    short or with no observed demand go to the baselines, their reason in ``ml.forecast_exclusions``.
    """
    client_id = validate_client_key(context.partition_key)
    as_of, origins = origins_for(warehouse, client_id, config, forecasting_params)
    try:
        pipeline = chronos.pipeline()
    except ModelUnavailable as exc:
        if chronos.required:
            raise
        yield from _model_unavailable(context, warehouse, chronos, forecasting_params, client_id, as_of, exc)
        return
    if not supports_covariates(pipeline):
        context.log.info(f"{chronos.model_id} is univariate: the covariates are not passed to it.")
    items = client_items(warehouse, client_id, as_of)
    started = time.perf_counter()
    with (
        mlflow_tracking.asset_run("chronos_forecast", client_id, as_of, context.run_id) as run,
        tempfile.TemporaryDirectory(prefix="chronos-spool-") as spool,
    ):
        spec = _stream_spec(chronos, forecasting_params, client_id, as_of, items, origins, run.info.run_id)
        stream = stream_forecasts(
            pipeline,
            spec,
            _chunk_reader(warehouse, client_id, as_of, forecasting_params.horizon),
            Path(spool),
            events=load_events(warehouse, client_id),
            log=context.log.info,
        )
        _log_chronos_run(pipeline, chronos, spec, stream, spool)
        written = warehouse.replace_client_rows(
            client_id, _chronos_writes(spec, stream, forecasting_params.backtest_retention)
        )
    metadata = chronos_metadata(spec, stream, written["ml.chronos_forecast"], time.perf_counter() - started)
    yield MaterializeResult(metadata={**metadata, "exclusions": MetadataValue.md(metadata["exclusions"])})
    yield from _chronos_checks(chronos, spec, stream)


def _model_unavailable(
    context: AssetExecutionContext,
    warehouse: Warehouse,
    chronos: ChronosModel,
    forecasting_params: ForecastingParams,
    client_id: str,
    as_of: pd.Timestamp,
    exc: ModelUnavailable,
):
    """No model to load and not required: an empty forecast for ``as_of`` (so stale rows of an
    earlier run at the same origin are not served), a warning, and the baselines carry on."""
    context.log.warning(f"{exc} Continuing with the baselines (CHRONOS_REQUIRED=true makes this fatal).")
    empty = to_forecast_table(None, forecasting_params.quantile_levels)
    warehouse.replace_client_rows(
        client_id, [TableWrite("ml.chronos_forecast", empty, {"as_of": as_of.date()})]
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


def _stream_spec(
    chronos: ChronosModel,
    forecasting_params: ForecastingParams,
    client_id: str,
    as_of: pd.Timestamp,
    items: list[str],
    origins: list[tuple[str, pd.Timestamp]],
    run_id: str,
) -> StreamSpec:
    """The one frozen description of this run's stream, from the model and forecasting params."""
    return StreamSpec(
        client_id=client_id,
        as_of=as_of,
        horizon=forecasting_params.horizon,
        quantiles=forecasting_params.quantile_levels,
        model_id=chronos.model_id,
        items=items,
        origins=origins,
        chunk_items=chronos.chunk_items,
        batch_size=chronos.batch_size,
        context_length=chronos.context_length,
        cross_learning=chronos.cross_learning,
        min_history=forecasting_params.min_history_days,
        run_id=run_id,
    )


def _chunk_reader(warehouse: Warehouse, client_id: str, as_of: pd.Timestamp, horizon: int) -> ChunkReader:
    """Reads one slice of items: demand up to ``as_of``, known-future covariates over the horizon."""
    horizon_end = as_of + pd.Timedelta(days=horizon)

    def read_chunk(chunk: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        return (
            load_demand(warehouse, client_id, until=as_of, items=chunk),
            load_calendar(warehouse, client_id, until=horizon_end, items=chunk),
        )

    return read_chunk


def _log_chronos_run(pipeline, chronos: ChronosModel, spec: StreamSpec, stream: StreamResult, spool: str):
    """The run's params and spooled forecast files, in the active MLflow run."""
    import mlflow

    params = chronos_run_params(
        spec,
        stream,
        model=model_name(pipeline),
        dtype=chronos.dtype,
        device=chronos.device,
        uses_covariates=supports_covariates(pipeline),
    )
    mlflow.log_params(params)
    mlflow.log_artifacts(spool, "chronos_forecast")


def _chronos_checks(chronos: ChronosModel, spec: StreamSpec, stream: StreamResult):
    """The model loaded; the live forecast is sane and covers every item not excluded."""
    yield AssetCheckResult(
        check_name="chronos_model_available", passed=True, metadata={"model_id": chronos.model_id}
    )
    problems = stream_problems(spec, stream)
    yield AssetCheckResult(
        check_name="chronos_forecast_sane",
        passed=not problems,
        metadata={"problems": "; ".join(problems) or "none", "items_forecast": len(stream.covered)},
    )


def _forecast_write(
    table: str, frame: pd.DataFrame, as_of: pd.Timestamp, params: ForecastingParams
) -> TableWrite:
    """A forecast table's rows of one origin; the same transaction drops the client's backtest
    rows older than ``BACKTEST_RETENTION_DAYS`` (``TableWrite.backtest_retention_days``)."""
    return TableWrite(
        table, frame, {"as_of": as_of.date()}, backtest_retention_days=params.backtest_retention
    )


def _chronos_writes(spec: StreamSpec, stream: StreamResult, retention: int | None) -> list[TableWrite]:
    """The spooled forecast (an empty table when no item could be forecast) and the exclusions."""
    as_of = {"as_of": spec.as_of.date()}
    empty = None if stream.files else to_forecast_table(None, spec.quantiles)
    return [
        TableWrite(
            "ml.chronos_forecast", empty, as_of, files=stream.files, backtest_retention_days=retention
        ),
        TableWrite("ml.forecast_exclusions", stream.exclusion_table(), as_of),
    ]


BASELINE_TABLE = "ml.baseline_forecast"
GLOBAL_TABLE = "ml.global_forecast"


def _origin_plan(
    warehouse: Warehouse,
    client_id: str,
    table: str,
    origins: list[tuple[str, pd.Timestamp]],
    prints: dict[pd.Timestamp, str],
    config: ForecastRunConfig,
) -> OriginPlan:
    """The origins to fit, and the backtests an earlier run already forecast from the same
    inputs (none with the run config ``refit_backtests``)."""
    stored = stored_origins(warehouse, client_id, table, [c for _, c in origins])
    return plan_origins(origins, prints, stored, reuse=not config.refit_backtests)


def _reusing_writes(
    warehouse: Warehouse,
    client_id: str,
    table: str,
    fitted,
    plan: OriginPlan,
    origins: list[tuple[str, pd.Timestamp]],
    prints: dict[pd.Timestamp, str],
    as_of: pd.Timestamp,
    params: ForecastingParams,
    spool: Path,
    run_id: str | None,
    spooled: Sequence[Path] = (),
) -> list[TableWrite]:
    """This run's rows of ``table``: the fitted origins (a frame, plus any Parquet files the step
    already spooled them to in ``spooled``) and, relabelled as this run's backtests, the stored
    rows of the reused ones. Each is spooled to Parquet one origin at a time (memory holds one
    origin, not the run) and they replace the client's rows of ``as_of`` in one transaction,
    together with one ``ml.forecast_origins`` row per origin."""
    schema = forecast_table_schema(params.quantile_levels)
    files = [*spooled, spool / "fitted.parquet"]
    fitted.select(list(schema)).cast(schema).write_parquet(files[-1])
    for cutoff, stored in plan.reuse.items():
        rows = as_backtest(stored_origin_rows(warehouse, client_id, table, stored), as_of)
        files.append(spool / f"reused-{cutoff.date()}.parquet")
        rows.select(list(schema)).cast(schema).write_parquet(files[-1])
    scope = {"as_of": as_of.date()}
    retention = params.backtest_retention
    return [
        TableWrite(table, None, scope, files=files, backtest_retention_days=retention),
        TableWrite(
            ORIGINS_TABLE,
            origin_rows(table, as_of, origins, prints, plan, run_id),
            {**scope, "source_table": table},
            backtest_retention_days=retention,
        ),
    ]


def _reuse_params(plan: OriginPlan) -> dict[str, object]:
    """How many origins were fitted and how many read back: MLflow params and asset metadata."""
    return {"origins_fitted": len(plan.fit), "origins_reused": len(plan.reuse)}


def _log_reuse(context: AssetExecutionContext, plan: OriginPlan) -> None:
    for cutoff, stored in sorted(plan.reuse.items()):
        context.log.info(
            f"backtest from {cutoff.date()}: reused the {stored.kind} rows of as_of "
            f"{stored.as_of.date()} (same inputs, fingerprint {stored.fingerprint[:12]})"
        )


def origins_for(
    warehouse: Warehouse, client_id: str, config: ForecastRunConfig, params: ForecastingParams
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
    backfill_policy=ONE_CLIENT_PER_RUN,
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
    forecasting_params: ForecastingParams,
):
    """statsforecast baselines (table ``ml.baseline_forecast``), from ``as_of`` and every backtest cutoff.

    Seasonal naive, AutoETS, AutoTheta and a 7-day moving average for every item with enough
    history, Croston SBA for intermittent and lumpy items, a historic average for short ones.
    """
    client_id = validate_client_key(context.partition_key)
    params = forecasting_params
    as_of, origins = origins_for(warehouse, client_id, config, params)
    cutoffs, window = [c for _, c in origins], params.baseline_history_days
    # Only the days some origin's window reads: a long history costs its window, not its length.
    demand = load_demand(warehouse, client_id, until=as_of, since=history_start(cutoffs, window))
    spec = baseline_spec(params.horizon, params.quantile_levels, params.min_history_days, window)
    prints = demand_fingerprints(baseline_inputs(demand), cutoffs, spec, window_days=window)
    plan = _origin_plan(warehouse, client_id, BASELINE_TABLE, origins, prints, config)
    with (
        mlflow_tracking.asset_run("baseline_forecast", client_id, as_of, context.run_id) as run,
        tempfile.TemporaryDirectory(prefix="baseline-spool-") as spool,
    ):
        import mlflow

        fitted: list[Path] = []
        fitted_rows: list[int] = []

        def spool_rows(rows: pd.DataFrame) -> None:
            """One slice of one origin, to Parquet as it is fitted (memory: one slice)."""
            fitted.append(Path(spool) / f"fitted-{len(fitted)}.parquet")
            to_forecast_table(rows, params.quantile_levels).write_parquet(fitted[-1])
            fitted_rows.append(len(rows))

        live = forecast_baselines_from_origins(
            demand,
            plan.fit,
            as_of,
            params.horizon,
            params.quantile_levels,
            write=spool_rows,
            min_history_days=params.min_history_days,
            n_jobs=params.baseline_n_jobs,
            ray_address=params.ray_address,
            run_id=run.info.run_id,
            log=context.log.info,
            history_days=params.baseline_history_days,
        )
        models = sorted(live.models)
        items = demand["item_id"].nunique()
        mlflow.log_params(
            {
                # The live origin's fingerprint (ml.forecast_origins): not a second hash of the demand.
                **baseline_run_params(models, params.horizon, as_of, origins, items, prints[as_of]),
                **_reuse_params(plan),
            }
        )
        for path in fitted:
            mlflow.log_artifact(str(path), "baseline_forecast")
        # Written inside the run: a failed write marks the MLflow run FAILED, not finished.
        empty = to_forecast_table(None, params.quantile_levels)
        writes = _reusing_writes(warehouse, client_id, BASELINE_TABLE, empty, plan, origins, prints,
                                 as_of, params, Path(spool), run.info.run_id, fitted)  # fmt: skip
        written = warehouse.replace_client_rows(client_id, writes)
    _log_reuse(context, plan)
    for item, reason in live.skipped.items():
        context.log.info(f"item {item}: {reason}")
    yield MaterializeResult(
        metadata={
            "as_of": str(as_of.date()),
            "rows": written[BASELINE_TABLE],
            "rows_fitted": sum(fitted_rows),
            **_reuse_params(plan),
            "models": ", ".join(models),
            "demand_classes": MetadataValue.json(live.demand_classes),
            "items_short_history": len(live.skipped),
            "mlflow_run_id": run.info.run_id,
        }
    )
    yield AssetCheckResult(
        check_name="baseline_forecast_sane",
        asset_key="baseline_forecast",
        passed=not live.problems,
        metadata={"problems": "; ".join(live.problems) or "none", "rows": live.rows},
    )


def _global_config(params: ForecastingParams) -> GlobalModelConfig:
    """The global model's knobs from the forecasting params (Settings ``GLOBAL_MODEL_*``)."""
    return GlobalModelConfig(
        rounds=params.global_model_rounds,
        conformal_windows=params.global_model_conformal_windows,
        history_days=params.global_model_history_days,
        n_jobs=params.global_model_n_jobs,
        slice_items=params.global_model_slice_items,
        calibration_days=params.global_model_calibration_days,
        training=params.global_model_training,
    )


@asset(
    partitions_def=clients_partitions,
    backfill_policy=ONE_CLIENT_PER_RUN,
    group_name="forecasting",
    deps=[*MODELLED, AssetKey("raw_events"), AssetKey("raw_products")],
    kinds={"lightgbm", "duckdb"},
    check_specs=[
        AssetCheckSpec(
            "global_forecast_sane",
            asset="global_forecast",
            description="No NaN, non-negative, ordered quantiles, full horizon for every forecast item.",
        )
    ],
)
def global_forecast(
    context: AssetExecutionContext,
    config: ForecastRunConfig,
    warehouse: Warehouse,
    mlflow_tracking: MlflowTracking,
    forecasting_params: ForecastingParams,
):
    """One LightGBM over all the client's items with lags, calendar, covariates and category
    (table ``ml.global_forecast``), from ``as_of`` and every backtest cutoff; conformal quantiles.

    ``GLOBAL_MODEL_ENABLED=false`` writes an empty forecast for ``as_of`` (so no stale rows serve).
    """
    client_id = validate_client_key(context.partition_key)
    params = forecasting_params
    as_of, origins = origins_for(warehouse, client_id, config, params)
    if not params.global_model_enabled:
        empty = to_forecast_table(None, params.quantile_levels)
        warehouse.replace_client_rows(client_id, [_forecast_write(GLOBAL_TABLE, empty, as_of, params)])
        yield MaterializeResult(metadata={"as_of": str(as_of.date()), "enabled": False, "rows": 0})
        yield AssetCheckResult(
            check_name="global_forecast_sane", passed=True, metadata={"problems": "none (disabled)"}
        )
        return
    stored = stored_origins(warehouse, client_id, GLOBAL_TABLE, [c for _, c in origins])

    def reusable(kind: str, cutoff: pd.Timestamp, print_: str) -> bool:
        candidate = plan_origins([(kind, cutoff)], {cutoff: print_}, stored, not config.refit_backtests)
        return cutoff in candidate.reuse

    with (
        mlflow_tracking.asset_run("global_forecast", client_id, as_of, context.run_id) as run,
        tempfile.TemporaryDirectory(prefix="global-spool-") as spool,
    ):
        import mlflow

        # Read a slice of items at a time (to fingerprint, then to fit), never the whole client.
        items = client_items(warehouse, client_id, as_of)
        frames = ClientFrames(items, _chunk_reader(warehouse, client_id, as_of, params.horizon))
        model = _global_config(params)
        calibrations = (
            None if config.refit_backtests else calibration_lookup(warehouse, client_id, context.log.warning)
        )
        spooled: list[Path] = []

        def spool_backtests(fitted: pd.DataFrame) -> None:
            """One slice of one backtest origin, to Parquet as it is fitted (memory: one slice)."""
            spooled.append(Path(spool) / f"backtest-{len(spooled)}.parquet")
            to_forecast_table(fitted, params.quantile_levels).write_parquet(spooled[-1])

        result = forecast_global_from_origins(
            frames, origins, as_of, params.horizon, params.quantile_levels, model,
            client_id=client_id, events=load_events(warehouse, client_id),
            categories=load_categories(warehouse, client_id),
            min_history_days=params.min_history_days, run_id=run.info.run_id, log=context.log.info,
            reusable=reusable if stored and not config.refit_backtests else None,  # else: fit all
            ray_address=params.ray_address,
            calibration_lookup=calibrations,  # None: a refit fits the calibrations too
            sink=spool_backtests,
        )  # fmt: skip
        plan = plan_origins(origins, result.fingerprints, stored, reuse=not config.refit_backtests)
        engine = {"engine": "ray" if params.ray_address else "local", "origins": len(origins)}
        mlflow.log_params({**config_params(result.config or model), **engine, **_reuse_params(plan),
                           "calibrations_reused": _calibrations_reused(result)})  # fmt: skip
        mlflow.log_metrics(cost_metrics(result))
        mlflow_tracking.log_frame(result.importance, "feature_importance")
        rows = result.rows  # the live origin's (the backtests are spooled); written inside the run
        table = to_forecast_table(rows, params.quantile_levels)
        prints, run_id = result.fingerprints, run.info.run_id
        writes = _reusing_writes(warehouse, client_id, GLOBAL_TABLE, table, plan, origins,
                                 prints, as_of, params, Path(spool), run_id, spooled)  # fmt: skip
        written = warehouse.replace_client_rows(client_id, writes + _calibration_writes(result, as_of))
    _log_reuse(context, plan)
    live = rows[rows["kind"] == "forecast"] if not rows.empty else pd.DataFrame()
    forecast_items = set(items) - set(result.excluded)
    yield MaterializeResult(
        metadata={
            "as_of": str(as_of.date()),
            "enabled": True,
            "rows": written[GLOBAL_TABLE],
            "items_forecast": int(live["item_id"].nunique()) if not live.empty else 0,
            "mlflow_run_id": run.info.run_id,
            **_reuse_params(plan),
            "calibrations_reused": _calibrations_reused(result),
            **{k: round(v, 3) for k, v in cost_metrics(result).items()},
        }
    )
    problems = (
        model_problems(live, pd.Series(sorted(forecast_items)), params.horizon, params.quantile_levels)
        if not live.empty
        else []
    )
    yield AssetCheckResult(
        check_name="global_forecast_sane",
        asset_key="global_forecast",
        passed=not problems,
        metadata={"problems": "; ".join(problems) or "none", "rows": len(live)},
    )


def _calibrations_reused(result: GlobalResult) -> str:
    """The live origin's slices whose calibration was read back, of all its slices ("1/1")."""
    return f"{result.calibrations_reused}/{len(result.calibrations)}"


def _calibration_writes(result: GlobalResult, as_of: pd.Timestamp) -> list[TableWrite]:
    """The live origin's calibrations and the members trained with them, replacing every earlier
    one of the client, when this run fitted any (else the stored ones are today's already): the
    tables hold one calibration per slice, so they do not grow with runs, and the next days' runs
    read them back. ``as_of`` (the run that stored them) also gives the tables the warehouse's
    ``(client_id, as_of)`` index."""
    if all(c.reused for c in result.calibrations):
        return []
    stored_by = pl.lit(as_of.date())
    days = pl.col("date", "window_cutoff", "calibrated_at").cast(pl.Date)  # per slice: units may differ
    rows = pl.concat([pl.from_pandas(calibration_rows(c)).with_columns(days) for c in result.calibrations])
    members = pl.concat(
        [pl.from_pandas(member_rows(c), schema_overrides=MEMBER_SCHEMA) for c in result.calibrations],
        how="vertical_relaxed",
    ).with_columns(pl.col("calibrated_at").cast(pl.Date))
    return [
        TableWrite(CALIBRATION_TABLE, rows.with_columns(as_of=stored_by)),
        TableWrite(MEMBERS_TABLE, members.with_columns(as_of=stored_by)),
    ]


# Typed even when no slice has members (each trained at its origin), so the table is created right.
MEMBER_SCHEMA = {
    "model": pl.String, "booster": pl.String, "calibrated_at": pl.Datetime, "fingerprint": pl.String
}  # fmt: skip


@asset(
    partitions_def=clients_partitions,
    backfill_policy=ONE_CLIENT_PER_RUN,
    group_name="forecasting",
    deps=[AssetKey("chronos_forecast"), AssetKey("baseline_forecast"), AssetKey("global_forecast")],
    kinds={"pandas", "duckdb"},
)
def ensemble_forecast(
    context: AssetExecutionContext,
    config: ForecastRunConfig,
    warehouse: Warehouse,
    mlflow_tracking: MlflowTracking,
    forecasting_params: ForecastingParams,
) -> MaterializeResult:
    """Median and mean of fixed members (``ENSEMBLE_MEMBERS``, those that forecast this client:
    Chronos-2 joins when it ran) over every origin (table ``ml.ensemble_forecast``); the
    champion rule then weighs them against the single models on the same backtests."""
    client_id = validate_client_key(context.partition_key)
    params = forecasting_params
    as_of = resolve_as_of(config, date_bounds(warehouse, client_id)[1])
    members = load_forecasts(warehouse, client_id, as_of, tables=MODEL_TABLES)
    started = time.perf_counter()
    with mlflow_tracking.asset_run("ensemble_forecast", client_id, as_of, context.run_id) as run:
        import mlflow

        rows = ensembles(members, params.ensemble_members, params.quantile_levels, run_id=run.info.run_id)
        seconds = time.perf_counter() - started
        models = sorted(rows["model"].unique()) if not rows.empty else []
        mlflow.log_params({"members": ",".join(params.ensemble_members), "ensembles": "; ".join(models)})
        mlflow.log_metrics({"combine_seconds": seconds})
        table = to_forecast_table(rows, params.quantile_levels)  # written inside the run, as above
        write = _forecast_write("ml.ensemble_forecast", table, as_of, params)
        warehouse.replace_client_rows(client_id, [write])
    if not models:
        context.log.warning("fewer than two ensemble members forecast this client: no ensemble written")
    return MaterializeResult(
        metadata={
            "as_of": str(as_of.date()),
            "rows": table.height,
            "models": ", ".join(models) or "none",
            "combine_seconds": round(seconds, 3),
            "mlflow_run_id": run.info.run_id,
        }
    )
