"""Forecast freshness: one check that flags every client whose forecast is older than
``FORECAST_MAX_AGE_HOURS``.

Dagster's ``build_last_update_freshness_checks`` looks at the latest update of *any* partition, so
one fresh client would hide every stale one; this check looks at each client's partition of the
forecast mart instead. It reads only the Dagster instance (never the warehouse) and runs hourly
through the automation sensor, whether or not anything upstream ran: a stale client is exactly one
for which nothing ran.
"""

import time
from collections.abc import Iterable

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    AssetRecordsFilter,
    AutomationCondition,
    DagsterInstance,
    MetadataValue,
    asset_check,
)

from forecast_assets.core.clients import InvalidClientKey, validate_client_key
from forecast_assets.core.running.freshness import stale_clients
from forecast_assets.defs.partitions import clients_partitions
from forecast_assets.settings import Settings

FORECAST_MART = AssetKey("fct_demand_forecast")
FRESHNESS_CRON = "0 * * * *"
FRESHNESS_CHECK = AssetCheckKey(FORECAST_MART, "forecast_fresh")


def last_materialized(
    instance: DagsterInstance, asset_key: AssetKey, clients: Iterable[str]
) -> dict[str, float | None]:
    """When each client's partition of ``asset_key`` was last materialized (None: never)."""
    latest: dict[str, float | None] = {}
    for client_id in clients:
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=asset_key, asset_partitions=[client_id]), limit=1
        ).records
        latest[client_id] = records[0].timestamp if records else None
    return latest


def build_forecast_freshness_check(settings: Settings) -> AssetChecksDefinition:
    max_age = settings.forecast_max_age_hours

    @asset_check(
        asset=FORECAST_MART,
        name=FRESHNESS_CHECK.name,
        description=f"Every registered client's forecast was written within the last {max_age:g} hours "
        "(FORECAST_MAX_AGE_HOURS); a client that never got one is stale too.",
        automation_condition=AutomationCondition.cron_tick_passed(FRESHNESS_CRON),
    )
    def forecast_fresh(context: AssetCheckExecutionContext) -> AssetCheckResult:
        clients = []
        for key in context.instance.get_dynamic_partitions(clients_partitions.name):
            try:
                clients.append(validate_client_key(key))
            except InvalidClientKey as exc:
                context.log.warning(f"skipping partition: {exc}")
        stale = stale_clients(
            last_materialized(context.instance, FORECAST_MART, clients), time.time(), max_age
        )
        for entry in stale:
            context.log.warning(f"stale forecast: {entry.describe()}")
        return AssetCheckResult(
            passed=not stale,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "clients_checked": len(clients),
                "stale_count": len(stale),
                "max_age_hours": max_age,
                "stale_clients": MetadataValue.json(
                    {s.client_id: s.age_hours for s in stale}  # None: never forecast
                ),
                "stale": MetadataValue.md("\n".join(f"- {s.describe()}" for s in stale[:50]) or "none"),
            },
        )

    return forecast_fresh
