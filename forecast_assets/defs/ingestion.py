"""Ingestion: a client's landing files into ``raw.*`` tables, rejects recorded with their reason."""

import datetime as dt
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    Config,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from forecast_assets.core.clients import validate_client_key
from forecast_assets.core.forecasting.calendar import client_holidays
from forecast_assets.core.landing.validation import (
    ALL_KINDS,
    EVENTS,
    DeliveryError,
    IngestResult,
    LandingLimits,
    describe_rejects,
    ingest_client,
    refusal,
    shrink_problem,
)
from forecast_assets.core.landing.watch import DIGEST_TAG, check_delivery
from forecast_assets.defs.partitions import ONE_CLIENT_PER_RUN, clients_partitions
from forecast_assets.resources.params import ForecastingParams, LandingParams
from forecast_assets.resources.warehouse import TableWrite, Warehouse

RAW_KEYS = {kind: f"raw_{kind}" for kind in ALL_KINDS}
DESCRIPTIONS = {
    kind: f"Validated {kind} rows of a client's landing files (table raw.{kind})." for kind in ALL_KINDS
} | {
    EVENTS: "Client events (optional events files), long: one row per date, event and value "
    "(table raw.events). Each event becomes a known-future covariate of the client's items."
}


class LandingRunConfig(Config):
    """Run config of ``raw_landing``."""

    # A delivery accepting fewer sales rows than DELIVERY_MIN_SHARE of those stored (or none) fails
    # unless this is set: a client that really shrank, or a deliberate reset.
    accept_shrink: bool = False


def _previous_sales_rows(warehouse: Warehouse, client_id: str) -> int | None:
    """Sales rows the client's last accepted delivery left in ``raw.sales`` (None before any)."""
    if not warehouse.table_exists("raw.sales"):
        return None
    return int(
        warehouse.query("select count(*) as n from raw.sales where client_id = ?", [client_id])["n"][0]
    )


def _refuse_shrink(result: IngestResult, previous: int | None, min_share: float) -> None:
    """Fail before writing when the delivery would silently shrink the client (see shrink_problem)."""
    problem = shrink_problem(result.accepted_rows["sales"], previous, min_share)
    if problem:
        samples = describe_rejects(result.reject_sample("sales", limit=3), limit=3)
        detail = f"; rejected for example: {' | '.join(samples)}" if samples else ""
        raise DeliveryError(
            refusal(
                result.client_id,
                [f"{problem}{detail}. If this is intended, rerun with run config accept_shrink: true"],
            )
        )


def _table_writes(result: IngestResult) -> list[TableWrite]:
    """Accepted rows from their spool files (an empty typed frame for a kind with none), rejects."""
    writes = [
        TableWrite(f"raw.{kind}", files=files) if files else TableWrite(f"raw.{kind}", result.frame(kind))
        for kind, files in result.files.items()
    ]
    if result.reject_files:
        writes.append(TableWrite("raw.rejects", files=result.reject_files))
    else:
        writes.append(TableWrite("raw.rejects", result.rejects))
    return writes


@multi_asset(
    specs=[
        AssetSpec(
            key,
            group_name="ingestion",
            description=DESCRIPTIONS[kind],
            kinds={"duckdb", "polars"},
        )
        for kind, key in RAW_KEYS.items()
    ]
    + [
        AssetSpec(
            "raw_holidays",
            group_name="ingestion",
            description="Public holidays of HOLIDAY_COUNTRY over the client's sales dates, the forecast "
            "horizon and a year more (table raw.holidays: date, name), from the holidays package.",
            kinds={"duckdb", "polars"},
        )
    ],
    check_specs=[
        AssetCheckSpec("no_rejected_rows", asset="raw_sales", description="Every sales row was accepted.")
    ],
    partitions_def=clients_partitions,
    backfill_policy=ONE_CLIENT_PER_RUN,
)
def raw_landing(
    context: AssetExecutionContext,
    warehouse: Warehouse,
    landing_params: LandingParams,
    forecasting_params: ForecastingParams,
    config: LandingRunConfig,
):
    """Read every landing file of the client, validate, and replace its raw and reject rows.

    Every raw table, the rejects and the client's holidays (HOLIDAY_COUNTRY over its sales and
    the horizon) are written in one transaction: either the whole delivery lands or none of it.
    A file-level defect, or a delivery that would shrink the client (unless ``accept_shrink``),
    fails the step before anything is written: the client's previous rows stay as they were.
    """
    client_id = validate_client_key(context.partition_key)
    limits = LandingLimits(
        max_file_mb=landing_params.landing_max_file_mb,
        earliest_date=dt.date.fromisoformat(landing_params.earliest_date),
    )
    result = ingest_client(Path(landing_params.landing_dir), client_id, dt.date.today(), limits)
    if expected := context.run.tags.get(DIGEST_TAG):  # started by the landing sensor: exactly its delivery
        check_delivery(Path(landing_params.landing_dir) / client_id, expected)
    if not config.accept_shrink:
        previous = _previous_sales_rows(warehouse, client_id)
        _refuse_shrink(result, previous, landing_params.delivery_min_share)
    writes = _table_writes(result)
    country = forecasting_params.holiday_country
    holidays = client_holidays(result.sales_date_span(), country, forecasting_params.horizon)
    writes.append(TableWrite("raw.holidays", holidays))
    warehouse.replace_client_rows(client_id, writes)
    for line in describe_rejects(result.reject_sample(limit=20), limit=20):
        context.log.warning(f"rejected: {line}")
    for kind, key in RAW_KEYS.items():
        counts = result.counts(kind)
        yield MaterializeResult(
            asset_key=key,
            metadata={
                "rows_in": counts["rows_in"],
                "accepted": counts["accepted"],
                "rejected": counts["rejected"],
                "table": f"raw.{kind}",
                "sample_rejects": MetadataValue.md(
                    "\n".join(f"- {line}" for line in describe_rejects(result.reject_sample(kind, limit=5)))
                    or "none"
                ),
            },
        )
    yield MaterializeResult(
        asset_key="raw_holidays",
        metadata={"country": country, "rows": holidays.height, "table": "raw.holidays"},
    )
    sales_rejects = result.counts("sales")["rejected"]
    yield AssetCheckResult(
        check_name="no_rejected_rows",
        asset_key="raw_sales",
        passed=sales_rejects == 0,
        severity=AssetCheckSeverity.WARN,
        metadata={"rejected": sales_rejects, "see": "table raw.rejects"},
    )
