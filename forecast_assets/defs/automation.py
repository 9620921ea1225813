"""The job that carries one client from landing files to consumer marts, and its schedule."""

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    define_asset_job,
    in_process_executor,
    schedule,
)

from forecast_assets.clients import clients_partitions

# In-process execution: the embedded DuckDB warehouse admits one writing process at a time, so
# the steps of a run share the run's process instead of racing for the file lock.
forecast_job = define_asset_job(
    name="forecast_client",
    selection=AssetSelection.all(),
    partitions_def=clients_partitions,
    executor_def=in_process_executor,
    description="One client partition through the whole flow: landing files to consumer marts.",
)


@schedule(
    job=forecast_job,
    cron_schedule="0 5 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
)
def daily_forecast_schedule(context: ScheduleEvaluationContext):
    """Every registered client, once a day: one run per client partition."""
    for client_id in context.instance.get_dynamic_partitions(clients_partitions.name):
        yield RunRequest(
            run_key=f"{client_id}-{context.scheduled_execution_time:%Y-%m-%d}", partition_key=client_id
        )
