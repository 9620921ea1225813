"""Ingestion: a client's landing files into ``raw.*`` tables, rejects recorded with their reason."""

import datetime as dt
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from forecast_assets.core.clients import validate_client_key
from forecast_assets.core.landing.validation import ALL_KINDS, EVENTS, describe_rejects, ingest_client
from forecast_assets.defs.partitions import ONE_CLIENT_PER_RUN, clients_partitions
from forecast_assets.resources.params import LandingParams
from forecast_assets.resources.warehouse import TableWrite, Warehouse

RAW_KEYS = {kind: f"raw_{kind}" for kind in ALL_KINDS}
DESCRIPTIONS = {
    kind: f"Validated {kind} rows of a client's landing files (table raw.{kind})." for kind in ALL_KINDS
} | {
    EVENTS: "Client events (optional events files), long: one row per date, event and value "
    "(table raw.events). Each event becomes a known-future covariate of the client's items."
}


@multi_asset(
    specs=[
        AssetSpec(
            key,
            group_name="ingestion",
            description=DESCRIPTIONS[kind],
            kinds={"duckdb", "polars"},
        )
        for kind, key in RAW_KEYS.items()
    ],
    check_specs=[
        AssetCheckSpec("no_rejected_rows", asset="raw_sales", description="Every sales row was accepted.")
    ],
    partitions_def=clients_partitions,
    backfill_policy=ONE_CLIENT_PER_RUN,
)
def raw_landing(context: AssetExecutionContext, warehouse: Warehouse, landing_params: LandingParams):
    """Read every landing file of the client, validate, and replace its raw and reject rows.

    Every raw table and the rejects are written in one transaction: either the whole delivery
    lands or none of it.
    """
    client_id = validate_client_key(context.partition_key)
    result = ingest_client(Path(landing_params.landing_dir), client_id, today=dt.date.today())
    writes = [TableWrite(f"raw.{kind}", frame) for kind, frame in result.accepted.items()]
    writes.append(TableWrite("raw.rejects", result.rejects))
    warehouse.replace_client_rows(client_id, writes)
    for line in describe_rejects(result.rejects, limit=20):
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
                    "\n".join(
                        f"- {line}"
                        for line in describe_rejects(result.rejects.filter(result.rejects["kind"] == kind))
                    )
                    or "none"
                ),
            },
        )
    sales_rejects = result.counts("sales")["rejected"]
    yield AssetCheckResult(
        check_name="no_rejected_rows",
        asset_key="raw_sales",
        passed=sales_rejects == 0,
        severity=AssetCheckSeverity.WARN,
        metadata={"rejected": sales_rejects, "see": "table raw.rejects"},
    )
