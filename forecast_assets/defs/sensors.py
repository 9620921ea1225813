"""Sensors: new landing deliveries start a client's run; failed runs raise an alert.

Thin Dagster wrappers: what counts as a new, finished delivery is decided in
``core/landing/watch.py``, the alert message and its delivery in ``alerts.py``.
"""

import time
from collections.abc import Mapping

from dagster import (
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    run_failure_sensor,
    sensor,
)

from forecast_assets.alerts import WebhookError, failure_message, post_json
from forecast_assets.core.clients import InvalidClientKey, validate_client_key
from forecast_assets.core.landing.watch import DIGEST_TAG, SEQUENCE_TAG, WatchState, decide, run_key
from forecast_assets.defs.automation import TRIGGER_TAG, forecast_job
from forecast_assets.defs.partitions import clients_partitions
from forecast_assets.settings import Settings, redact_webhook_url


def run_client(tags: Mapping[str, str]) -> str | None:
    """The client a run is for: its partition tag, or the one-partition range that runs of a
    backfill under ``BackfillPolicy.multi_run(1)`` carry instead. None if neither names a valid key."""
    key = tags.get("dagster/partition")
    start = tags.get("dagster/asset_partition_range_start")
    if key is None and start is not None and start == tags.get("dagster/asset_partition_range_end"):
        key = start
    try:
        return validate_client_key(key) if key is not None else None
    except InvalidClientKey:
        return None


def build_landing_sensor(settings: Settings) -> SensorDefinition:
    """Watch ``LANDING_DIR``: a new or changed delivery (by content hash) requests a run of that
    client's partition; a new folder named with a valid client key is registered as a partition
    in the same tick, so dropping a folder is all it takes to onboard a client.

    A folder is run once it has sales and products files and every file kept its size and mtime
    between two ticks (the newest at least ``LANDING_SETTLE_SECONDS`` old), or at once when a
    ``_READY`` marker newer than the files says the delivery is complete: a stalled or half-written
    upload never runs. The run carries the delivery's full digest (tag ``DIGEST_TAG``) and
    ingestion refuses files that no longer match it. The run key is client, delivery number and
    digest: the same files never run twice in a row, and going back to earlier files runs again.
    Symbolic links (client folder, kind folder, file) are never followed; each is logged once.
    """
    budget = settings.landing_hash_mb_per_tick * (1 << 20)

    @sensor(
        name="landing_sensor",
        job=forecast_job,
        minimum_interval_seconds=settings.landing_sensor_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description=f"New or changed files under {settings.landing_dir}/<client>/ run that client.",
    )
    def landing_sensor(context: SensorEvaluationContext) -> SensorResult:
        state = WatchState.from_cursor(context.cursor)
        decision = decide(settings.landing_dir, state, time.time(), settings.landing_settle_seconds, budget)
        for name in decision.new_invalid:
            context.log.warning(
                f"landing folder {name!r} ignored: not a valid client key "
                "(lowercase letters, digits and underscores, at most 63 characters); never registered"
            )
        for name in decision.new_links:
            context.log.warning(
                f"landing path {name!r} ignored: a symbolic link is never followed (it could read another "
                "client's files); a linked client folder is never registered"
            )
        for client_id, files in decision.hashed.items():
            context.log.info(f"{client_id}: hashed {', '.join(files)}")
        for client_id, reason in decision.waiting.items():
            context.log.info(f"{client_id}: not run yet, {reason}")
        registered = set(context.instance.get_dynamic_partitions(clients_partitions.name))
        new_clients = [c for c in decision.to_run if c not in registered]
        for client_id in new_clients:
            context.log.info(f"new client {client_id}: registered as a partition")
        requests = [
            RunRequest(
                run_key=run_key(client_id, delivery.sequence, delivery.digest),
                partition_key=validate_client_key(client_id),
                tags={
                    TRIGGER_TAG: "landing",
                    DIGEST_TAG: delivery.digest,
                    SEQUENCE_TAG: str(delivery.sequence),
                },
            )
            for client_id, delivery in decision.to_run.items()
        ]
        for request in requests:
            context.log.info(f"{request.partition_key}: new delivery, run requested ({request.run_key})")
        return SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[clients_partitions.build_add_request(new_clients)]
            if new_clients
            else None,
            cursor=decision.state.to_cursor(),
            skip_reason=None if requests else "no new or changed delivery ready",
        )

    return landing_sensor


def build_failure_sensor(settings: Settings) -> SensorDefinition:
    """Every failed run of this code location is logged with its client and first error and, when
    ``FAILURE_WEBHOOK_URL`` is set, posted there as a short JSON message (``text`` reads well in
    Slack-compatible chats). A webhook that cannot be reached is logged, not retried: the alert
    must never fail the sensor and repeat for every run after it."""
    url = settings.failure_webhook_url

    @run_failure_sensor(
        name="run_failure_alert",
        default_status=DefaultSensorStatus.RUNNING,
        description="Logs failed runs and posts them to FAILURE_WEBHOOK_URL when set.",
    )
    def run_failure_alert(context: RunFailureSensorContext) -> None:
        run = context.dagster_run
        client_id = run_client(run.tags)
        steps = context.get_step_failure_events()
        error = context.failure_event.message
        if steps and steps[0].step_failure_data.error:
            cause = steps[0].step_failure_data.error
            while cause.cause:  # the user's exception, not Dagster's wrapper around it
                cause = cause.cause
            error = f"{steps[0].step_key}: {cause.message.strip()}"
        payload = failure_message(run.job_name, run.run_id, client_id, error)
        context.log.error(str(payload["text"]))
        if not url:
            return
        try:
            status = post_json(url, payload)
            context.log.info(f"alert posted to {redact_webhook_url(url)} (HTTP {status})")
        except WebhookError as exc:
            context.log.warning(f"alert not delivered: {exc}")

    return run_failure_alert
