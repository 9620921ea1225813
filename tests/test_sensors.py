"""Sensors, schedule, freshness check and declarative automation, evaluated against a real Dagster
instance (``instance_for_test``: SQLite in a temporary DAGSTER_HOME) and real landing files."""

import datetime as dt
import time

import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    BackfillPolicy,
    DagsterInstance,
    build_asset_check_context,
    build_run_status_sensor_context,
    build_schedule_context,
    build_sensor_context,
    evaluate_automation_conditions,
    instance_for_test,
    materialize,
)

from forecast_assets.core.landing.watch import DIGEST_TAG, READY_MARKER, SEQUENCE_TAG
from forecast_assets.definitions import build_assets, build_definitions, build_resource_defs
from forecast_assets.defs.automation import build_daily_schedule
from forecast_assets.defs.freshness import FORECAST_MART, build_forecast_freshness_check
from forecast_assets.defs.ingestion import raw_landing
from forecast_assets.defs.partitions import clients_partitions
from forecast_assets.defs.sensors import build_failure_sensor, build_landing_sensor, run_client
from forecast_assets.demo.sample_data import DemoClient, write_demo_landing
from forecast_assets.settings import REPO_ROOT, Settings

from .conftest import make_settings
from .test_running_helpers import Hook


def shop(name: str, seed: int = 1) -> DemoClient:
    return DemoClient(name, n_items=2, sales_format="csv", base_level=5.0, seed=seed)


@pytest.fixture(scope="module")
def defs():
    return build_definitions(Settings.from_env())


@pytest.fixture
def instance():
    with instance_for_test() as inst:
        yield inst


def tick(sensor, instance, cursor=None):
    """One evaluation, applied the way the sensor daemon applies it: partitions added first."""
    result = sensor(build_sensor_context(instance=instance, cursor=cursor, sensor_name=sensor.name))
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def test_landing_sensor_registers_new_clients_and_runs_each_delivery_once(tmp_path, instance, capfd):
    settings = make_settings(tmp_path, landing_settle_seconds=0)
    landing = settings.landing_dir
    write_demo_landing(landing, clients=(shop("corner_shop"), shop("farm_stand", 2)), history_days=120)
    (landing / "Bad Folder").mkdir()
    sensor = build_landing_sensor(settings)

    # First sight: nothing is known to be finished yet, so nothing runs and nothing is registered.
    seen = tick(sensor, instance)
    assert seen.run_requests == [] and not seen.dynamic_partitions_requests
    # The invalid folder is reported in the sensor's log and never registered.
    assert "'Bad Folder' ignored: not a valid client key" in capfd.readouterr().err

    # Unchanged at the second tick: both folders become partitions in that tick, each gets one run.
    first = tick(sensor, instance, seen.cursor)
    assert sorted(r.partition_key for r in first.run_requests) == ["corner_shop", "farm_stand"]
    assert [list(r.partition_keys) for r in first.dynamic_partitions_requests] == [
        ["corner_shop", "farm_stand"]
    ]
    assert all(r.run_key.startswith(f"{r.partition_key}-1-") for r in first.run_requests)
    assert all(r.tags["forecast-assets/trigger"] == "landing" for r in first.run_requests)
    # The run carries the full digest of the delivery it is for.
    assert all(len(r.tags[DIGEST_TAG]) == 64 for r in first.run_requests)
    assert sorted(instance.get_dynamic_partitions(clients_partitions.name)) == ["corner_shop", "farm_stand"]

    # Nothing changed: no run.
    second = tick(sensor, instance, first.cursor)
    assert second.run_requests == [] and not second.dynamic_partitions_requests

    # A changed file of one client: one run for that client, under a new run key; already registered.
    with (landing / "farm_stand" / "sales.csv").open("a") as handle:
        handle.write("2026-10-30,farm_stand_item_000,1,2.5\n")
    third = tick(sensor, instance, tick(sensor, instance, second.cursor).cursor)
    [request] = third.run_requests
    assert request.partition_key == "farm_stand" and request.run_key.startswith("farm_stand-2-")
    assert request.run_key not in {r.run_key for r in first.run_requests}
    assert not third.dynamic_partitions_requests

    # With the cursor lost, an unchanged first delivery gives its old run key again (Dagster skips
    # seen keys); a later one is numbered afresh and may run once more.
    fresh = tick(sensor, instance, tick(sensor, instance).cursor)
    corner = next(r.run_key for r in first.run_requests if r.partition_key == "corner_shop")
    assert corner in {r.run_key for r in fresh.run_requests}


def test_landing_sensor_waits_while_a_delivery_is_being_written(tmp_path, instance):
    settings = make_settings(tmp_path, landing_settle_seconds=3600)
    write_demo_landing(settings.landing_dir, clients=(shop("busy_shop"),), history_days=120)
    sensor = build_landing_sensor(settings)
    result = tick(sensor, instance, tick(sensor, instance).cursor)
    assert result.run_requests == [] and instance.get_dynamic_partitions(clients_partitions.name) == []


def test_a_stalled_upload_waits_for_the_second_tick_and_a_ready_marker_runs_at_once(tmp_path, instance):
    settings = make_settings(tmp_path, landing_settle_seconds=0)
    write_demo_landing(
        settings.landing_dir, clients=(shop("slow_shop"), shop("quick_shop", 2)), history_days=120
    )
    (settings.landing_dir / "quick_shop" / READY_MARKER).touch()  # written after its files
    sensor = build_landing_sensor(settings)
    first = tick(sensor, instance)
    assert [r.partition_key for r in first.run_requests] == ["quick_shop"]
    second = tick(sensor, instance, first.cursor)
    assert [r.partition_key for r in second.run_requests] == ["slow_shop"]


def test_a_reverted_delivery_runs_again(tmp_path, instance):
    settings = make_settings(tmp_path, landing_settle_seconds=0)
    write_demo_landing(settings.landing_dir, clients=(shop("corner_shop"),), history_days=120)
    sales = settings.landing_dir / "corner_shop" / "sales.csv"
    a = sales.read_bytes()
    sensor = build_landing_sensor(settings)
    keys, cursor = [], None
    for content in (a, a + b"2026-10-30,corner_shop_item_000,1,2.5\n", a):  # A -> B -> A
        sales.write_bytes(content)
        cursor = tick(sensor, instance, cursor).cursor
        result = tick(sensor, instance, cursor)
        cursor = result.cursor
        keys += [(r.run_key, r.tags[SEQUENCE_TAG], r.tags[DIGEST_TAG]) for r in result.run_requests]
    assert [seq for _, seq, _ in keys] == ["1", "2", "3"]
    assert len({key for key, _, _ in keys}) == 3 and keys[0][2] == keys[2][2] != keys[1][2]


def test_a_symlinked_client_folder_is_ignored_and_never_registered(tmp_path, instance, capfd):
    settings = make_settings(tmp_path, landing_settle_seconds=0)
    write_demo_landing(settings.landing_dir, clients=(shop("corner_shop"),), history_days=120)
    (settings.landing_dir / "mirror_shop").symlink_to(settings.landing_dir / "corner_shop")
    sensor = build_landing_sensor(settings)
    capfd.readouterr()
    first = tick(sensor, instance)
    second = tick(sensor, instance, first.cursor)
    tick(sensor, instance, second.cursor)
    assert [r.partition_key for r in second.run_requests] == ["corner_shop"]
    assert instance.get_dynamic_partitions(clients_partitions.name) == ["corner_shop"]
    log = capfd.readouterr().err
    assert log.count("landing path 'mirror_shop' ignored: a symbolic link is never followed") == 1


def test_a_delivery_changed_after_the_sensor_decided_fails_its_run_and_writes_nothing(tmp_path, instance):
    settings = make_settings(tmp_path, landing_settle_seconds=0)
    write_demo_landing(settings.landing_dir, clients=(shop("corner_shop"),), history_days=120)
    sales = settings.landing_dir / "corner_shop" / "sales.csv"
    sensor = build_landing_sensor(settings)
    warehouse = build_resource_defs(settings)["warehouse"]

    def run(tags):
        return materialize(
            [raw_landing],
            partition_key="corner_shop",
            resources=build_resource_defs(settings),
            instance=instance,
            tags=tags,
            raise_on_error=False,
        )

    def raw_sales():
        return warehouse.query("select * from raw.sales order by item_id, date")

    first = tick(sensor, instance, tick(sensor, instance).cursor)
    [request] = first.run_requests
    assert run(request.tags).success
    before = raw_sales()

    with sales.open("a") as handle:  # delivery B, seen finished by the sensor ...
        handle.write("2026-11-05,SHO-0001,1,2.5\n")
    second = tick(sensor, instance, tick(sensor, instance, first.cursor).cursor)
    [request] = second.run_requests
    with sales.open("a") as handle:  # ... and changed again before its run reads it
        handle.write("2026-11-06,SHO-0001,120,2.5\n")
    result = run(request.tags)
    assert not result.success
    [failure] = result.get_step_failure_events()
    error = failure.step_failure_data.error
    while error.cause:
        error = error.cause
    assert "the delivery changed after the sensor saw it" in error.message
    assert "nothing was written, re-run when it settles" in error.message
    assert raw_sales().equals(before)

    # A run not started by the sensor (schedule, UI, CLI) ingests what is there.
    assert run({}).success
    assert raw_sales().height == before.height + 2


def test_schedule_runs_every_registered_client_at_the_configured_time(tmp_path, instance, defs):
    settings = make_settings(tmp_path, schedule_time="06:30", schedule_timezone="Europe/Berlin")
    schedule = build_daily_schedule(settings)
    assert schedule.cron_schedule == "30 6 * * *" and schedule.execution_timezone == "Europe/Berlin"
    instance.add_dynamic_partitions(clients_partitions.name, ["acme", "globex", "Not-Valid"])
    when = dt.datetime(2026, 11, 23, 6, 30, tzinfo=dt.UTC)
    requests = schedule(build_schedule_context(instance=instance, scheduled_execution_time=when))
    assert sorted((r.partition_key, r.run_key) for r in requests) == [
        ("acme", "acme-2026-11-23"),
        ("globex", "globex-2026-11-23"),
    ]
    assert defs.resolve_schedule_def("daily_forecast_schedule").job_name == "forecast_client"


def test_failure_sensor_logs_and_posts_a_real_failed_run(tmp_path, instance, capfd):
    hook = Hook()
    try:
        settings = make_settings(tmp_path, failure_webhook_url=hook.url)
        # A real failing run: a registered client with no landing folder fails at ingestion.
        instance.add_dynamic_partitions(clients_partitions.name, ["ghost_shop"])
        result = materialize(
            build_assets(),
            partition_key="ghost_shop",
            resources=build_resource_defs(settings),
            instance=instance,
            raise_on_error=False,
        )
        assert not result.success
        sensor = build_failure_sensor(settings)
        context = build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_event=result.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
        ).for_run_failure()
        capfd.readouterr()
        sensor(context)
        log = capfd.readouterr().err
    finally:
        hook.close()
    [posted] = hook.received
    message = posted["json"]
    assert message["client_id"] == "ghost_shop" and message["run_id"] == result.run_id
    assert message["error"].startswith("raw_landing: ")
    assert "LandingError: no landing folder for client 'ghost_shop'" in message["error"]
    assert message["text"].startswith(f"forecast-assets: run {result.run_id[:8]} of ")
    assert "for client ghost_shop failed: raw_landing:" in message["text"]
    # The failure is in the sensor's log; the webhook's secret path is not.
    assert "for client ghost_shop failed: raw_landing: " in log
    assert "SECRET-TOKEN" not in log and "alert posted to http://127.0.0.1" in log


def test_freshness_check_flags_stale_and_never_forecast_clients(tmp_path, instance):
    settings = make_settings(tmp_path, forecast_max_age_hours=1 / 3600)  # one second
    instance.add_dynamic_partitions(clients_partitions.name, ["fresh_shop", "stale_shop", "new_shop"])
    instance.report_runless_asset_event(AssetMaterialization(FORECAST_MART, partition="stale_shop"))
    time.sleep(1.5)
    instance.report_runless_asset_event(AssetMaterialization(FORECAST_MART, partition="fresh_shop"))
    check = build_forecast_freshness_check(settings)
    result = check(build_asset_check_context(instance=instance))
    assert not result.passed
    stale = result.metadata["stale_clients"].data
    assert set(stale) == {"stale_shop", "new_shop"} and stale["new_shop"] is None
    assert result.metadata["clients_checked"].value == 3

    relaxed = build_forecast_freshness_check(make_settings(tmp_path, forecast_max_age_hours=1))
    instance.report_runless_asset_event(AssetMaterialization(FORECAST_MART, partition="new_shop"))
    assert relaxed(build_asset_check_context(instance=instance)).passed


SERVED_MARTS = ("fct_demand_forecast", "fct_forecast_accuracy", "fct_inventory_recommendations", "dim_item")
MART_KEYS = [AssetKey(m) for m in SERVED_MARTS] + [AssetKey(f"{m}__candidate") for m in SERVED_MARTS]


def test_marts_follow_forecast_updates_and_freshness_runs_hourly(instance, defs):
    """Declarative automation over the real definitions: nothing to do after a full run; a client's
    forecasts updated on their own bring that client's forecast mart, and only that; the freshness
    check is requested once an hour has passed."""
    instance.add_dynamic_partitions(clients_partitions.name, ["shop_a", "shop_b"])
    t0 = dt.datetime(2026, 11, 23, 10, 5, tzinfo=dt.UTC)

    def evaluate(cursor, minutes):
        return evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=cursor, evaluation_time=t0 + dt.timedelta(minutes=minutes)
        )

    result = evaluate(None, 0)
    for client in ("shop_a", "shop_b"):  # a full run of each client: every asset, marts included
        for asset in build_assets():
            for key in asset.keys:
                instance.report_runless_asset_event(AssetMaterialization(key, partition=client))
    result = evaluate(result.cursor, 1)
    assert result.total_requested == 0

    for key in ("chronos_forecast", "baseline_forecast"):
        instance.report_runless_asset_event(AssetMaterialization(key, partition="shop_a"))
    result = evaluate(result.cursor, 2)
    # The forecast mart's candidate, and every served mart (each waits for all four candidates'
    # tests), for shop_a only.
    requested = {key.to_user_string() for key in MART_KEYS if result.get_requested_partitions(key)}
    assert requested == {"fct_demand_forecast__candidate", *SERVED_MARTS}
    assert all(result.get_requested_partitions(key) in (set(), {"shop_a"}) for key in MART_KEYS)
    assert result.total_requested == 5

    result = evaluate(result.cursor, 3)
    assert result.total_requested == 0  # requested once, not on every tick

    result = evaluate(result.cursor, 60)  # 11:05: the 11:00 cron tick passed
    assert result.total_requested == 1  # the freshness check, no asset
    assert not any(result.get_requested_partitions(k) for a in build_assets() for k in a.keys)


def test_failed_runs_name_their_client_from_either_partition_tag():
    assert run_client({"dagster/partition": "acme"}) == "acme"
    range_tags = {"dagster/asset_partition_range_start": "acme", "dagster/asset_partition_range_end": "acme"}
    assert run_client(range_tags) == "acme"
    assert run_client({**range_tags, "dagster/asset_partition_range_end": "globex"}) is None
    assert run_client({"dagster/partition": "../etc"}) is None and run_client({}) is None


def test_every_asset_backfills_one_client_per_run(defs):
    """Equal policies let an asset backfill run a client's whole graph in one run."""
    graph = defs.resolve_asset_graph()
    policies = {graph.get(key).backfill_policy for key in graph.get_all_asset_keys()}
    assert policies == {BackfillPolicy.multi_run(1)}


def test_instance_config_queues_runs_per_client_and_one_duckdb_writer(tmp_path):
    (tmp_path / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    with DagsterInstance.from_config(str(tmp_path)) as inst:
        queue = inst.get_concurrency_config().run_queue_config
        limits = {
            (limit["key"], str(limit.get("value"))): limit["limit"] for limit in queue.tag_concurrency_limits
        }
    assert queue.max_concurrent_runs == 4
    per_client = "{'applyLimitPerUniqueValue': True}"
    assert limits == {
        ("dagster/partition", per_client): 1,
        ("dagster/asset_partition_range_start", per_client): 1,
        ("dagster/code_location", "forecast_assets"): 1,
    }
