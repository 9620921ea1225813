"""The job that carries one client from landing files to consumer marts, its daily schedule, and
the declarative automation sensor (consumer marts follow their forecasts; freshness is checked)."""

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
)

from forecast_assets.core.clients import InvalidClientKey, validate_client_key
from forecast_assets.defs.freshness import FRESHNESS_CHECK
from forecast_assets.defs.partitions import clients_partitions
from forecast_assets.settings import Settings

TRIGGER_TAG = "forecast-assets/trigger"

# No executor of its own: the job takes the Definitions' executor, which build_definitions picks
# from the settings when definitions load (FORECAST_EXECUTOR, defs/executors.py): in-process by
# default, since the embedded DuckDB warehouse admits one writing process at a time; multiprocess
# or k8s (a pod per step) on Postgres. One executor for this job and the asset graph's own runs.
forecast_job = define_asset_job(
    name="forecast_client",
    # The freshness check looks at every client: it runs hourly by automation, not in one client's run.
    selection=AssetSelection.all() - AssetSelection.checks(FRESHNESS_CHECK),
    partitions_def=clients_partitions,
    description="One client partition through the whole flow: landing files to consumer marts.",
)


def build_daily_schedule(settings: Settings) -> ScheduleDefinition:
    """Every registered client once a day, at ``SCHEDULE_TIME`` in ``SCHEDULE_TIMEZONE``.

    Running by default: a deployment that forecasts daily should not depend on someone switching
    the schedule on. One run per client keeps a client's failure from failing the others.
    """

    @schedule(
        name="daily_forecast_schedule",
        job=forecast_job,
        cron_schedule=settings.schedule_cron,
        execution_timezone=settings.schedule_timezone,
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"forecast_client for every registered client, daily at {settings.schedule_time} "
        f"{settings.schedule_timezone}.",
    )
    def daily_forecast_schedule(context: ScheduleEvaluationContext):
        day = f"{context.scheduled_execution_time:%Y-%m-%d}"
        requests = []
        for key in context.instance.get_dynamic_partitions(clients_partitions.name):
            try:
                client_id = validate_client_key(key)
            except InvalidClientKey as exc:
                context.log.warning(f"skipping partition: {exc}")
                continue
            requests.append(
                RunRequest(
                    run_key=f"{client_id}-{day}", partition_key=client_id, tags={TRIGGER_TAG: "schedule"}
                )
            )
        return requests or SkipReason("no client is registered yet")

    return daily_forecast_schedule


# Declarative automation: evaluates the automation conditions of every asset and check (the
# consumer marts are eager, see defs/dbt/translator.py; the forecast freshness check runs hourly).
# Running by default, so that a forecast updated on its own (a retrospective run, a UI
# materialization) is followed by its marts without anyone asking.
automation_sensor = AutomationConditionSensorDefinition(
    "forecast_automation",
    target=AssetSelection.all(),
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    run_tags={TRIGGER_TAG: "automation"},
    description="Refreshes the consumer marts after their forecasts update; runs the freshness check.",
)
