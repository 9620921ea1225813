"""The project running itself under a real ``dagster dev``: webserver, daemon (sensors, run queue,
backfills, automation) and runs in their own processes, on the repo's dagster.yaml.

1. Dropping two new clients' folders into the landing directory is all it takes: the landing
   sensor registers both partitions in one tick and each gets a successful run. The runs queue
   one behind the other (the DuckDB warehouse admits one writer) instead of failing on the lock.
2. A backfill of both clients over the whole asset graph (what the UI launches from the graph)
   completes with successful runs, again one at a time.
3. In headless Chromium: the asset graph and the client partitions are shown, a materialization
   launched for one client (GraphQL, as the UI does) finishes, and screenshots of the graph, the
   partitions and the finished run are saved under ``test-output/browser/``.
"""

import contextlib
import itertools
import os
import shutil

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from forecast_assets.definitions import build_assets
from forecast_assets.defs.sensors import run_client
from forecast_assets.demo.sample_data import DemoClient, write_demo_landing
from forecast_assets.resources.duckdb_lock import connect_duckdb
from forecast_assets.settings import REPO_ROOT

from .backends import BACKEND
from .dagster_dev import DagsterDev

pytestmark = [
    pytest.mark.e2e,
    # `dagster dev` here always runs the embedded default (DuckDB, SQLite instance): once is enough.
    pytest.mark.skipif(BACKEND == "postgres", reason="runs in the default (DuckDB) pass of the suite"),
]

CLIENTS = (
    DemoClient("kiosk_north", n_items=3, sales_format="csv", base_level=8.0, seed=4),
    DemoClient("kiosk_south", n_items=3, sales_format="parquet", base_level=5.0, seed=6),
)
NAMES = [c.client_id for c in CLIENTS]
OUTPUT = REPO_ROOT / "test-output"
RUN_TIMEOUT = 420  # seconds for two queued runs on a small shared machine
TERMINAL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    server = DagsterDev(
        tmp_path_factory.mktemp("dagster_dev"),
        # Fast ticks for the test; a delivery counts as complete one second after its last write.
        {"LANDING_SENSOR_INTERVAL_SECONDS": "3", "LANDING_SETTLE_SECONDS": "1"},
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()
        OUTPUT.mkdir(exist_ok=True)
        if server.log_path.exists():
            shutil.copy(server.log_path, OUTPUT / "dagster_dev.log")


@pytest.fixture(scope="module")
def instance(dev):
    with DagsterInstance.from_config(str(dev.dagster_home)) as inst:
        yield inst


def finished(records) -> bool:
    return bool(records) and all(r.dagster_run.is_finished for r in records)


def assert_one_at_a_time(records) -> None:
    spans = sorted((r.start_time, r.end_time) for r in records)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, f"runs overlapped: {spans}"


def mart_rows(dev: DagsterDev, client_id: str) -> int:
    con = connect_duckdb(dev.forecast_home / "warehouse.duckdb", read_only=True)
    try:
        query = "select count(*) from analytics.fct_demand_forecast where client_id = ?"
        return con.execute(query, [client_id]).fetchone()[0]
    finally:
        con.close()


def test_new_landing_folders_become_partitions_and_successful_runs(dev, instance):
    write_demo_landing(dev.landing_dir, clients=CLIENTS, history_days=120)
    (dev.landing_dir / "Not a client!").mkdir()

    dev.wait_for(lambda: sorted(instance.get_dynamic_partitions("clients")) == NAMES, 90, "both partitions")
    landing_runs = RunsFilter(tags={"forecast-assets/trigger": "landing"})

    def landing_runs_done():
        records = instance.get_run_records(landing_runs)
        return records if len(records) == 2 and finished(records) else None

    records = dev.wait_for(landing_runs_done, RUN_TIMEOUT, "the two landing runs to finish")
    assert {r.dagster_run.status for r in records} == {DagsterRunStatus.SUCCESS}, dev.log_tail()
    assert sorted(r.dagster_run.tags["dagster/partition"] for r in records) == NAMES
    assert {r.dagster_run.job_name for r in records} == {"forecast_client"}
    assert_one_at_a_time(records)
    # The invalid folder was never registered; the marts hold both clients' forecasts.
    assert instance.get_dynamic_partitions("clients") == NAMES
    assert all(mart_rows(dev, name) == 3 * 28 for name in NAMES)


def test_backfill_of_two_clients_over_the_asset_graph(dev, instance):
    keys = [{"path": key.path} for asset in build_assets() for key in asset.keys]
    data = dev.graphql(
        """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
             __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message }
             ... on InvalidSubsetError { message } ... on PartitionKeysNotFoundError { message } } }""",
        {"params": {"partitionNames": NAMES, "assetSelection": keys, "fromFailure": False}},
    )["launchPartitionBackfill"]
    assert data["__typename"] == "LaunchBackfillSuccess", data
    backfill_id = data["backfillId"]

    def done():
        backfill = instance.get_backfill(backfill_id)
        return backfill if backfill.status.value in TERMINAL else None

    backfill = dev.wait_for(done, RUN_TIMEOUT, f"backfill {backfill_id} to finish")
    records = instance.get_run_records(RunsFilter(tags={"dagster/backfill": backfill_id}))
    assert backfill.status.value in {"COMPLETED", "COMPLETED_SUCCESS"}, (backfill.status, dev.log_tail())
    assert records and {r.dagster_run.status for r in records} == {DagsterRunStatus.SUCCESS}
    assert sorted({run_client(r.dagster_run.tags) for r in records}) == NAMES
    assert_one_at_a_time(records)


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


LAUNCH = """mutation($params: ExecutionParams!) { launchPipelineExecution(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } } } }"""


@pytest.mark.browser
def test_ui_shows_the_graph_partitions_and_a_finished_run(dev, instance):
    chromium = chromium_path()
    if chromium is None:
        pytest.skip("no Chromium installed (apt-get install chromium, or set CHROMIUM_PATH)")
    sync_api = pytest.importorskip("playwright.sync_api")
    shots = OUTPUT / "browser"
    shots.mkdir(parents=True, exist_ok=True)
    client_id = NAMES[0]

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(60_000)

        # The asset graph, every group expanded (Alt+E, the graph's own shortcut).
        page.goto(f"{dev.url}/asset-groups")
        # A fresh browser profile first gets the "Join the Dagster community" dialog.
        with contextlib.suppress(sync_api.TimeoutError):
            page.get_by_role("button", name="Skip").click(timeout=15_000)
        page.get_by_text("forecasting", exact=True).first.wait_for()
        page.keyboard.press("Alt+KeyE")
        # Names the graph shows untruncated at this zoom, one per group.
        for name in ("raw_sales", "ts_demand_daily", "chronos_forecast", "inventory_metrics", "dim_item"):
            page.get_by_text(name, exact=True).first.wait_for()
        page.wait_for_timeout(1500)  # let the layout settle before the picture
        page.screenshot(path=str(shots / "01_asset_graph.png"), full_page=True)

        # The client partitions of an asset.
        page.goto(f"{dev.url}/assets/chronos_forecast?view=partitions")
        for name in NAMES:
            page.get_by_text(name, exact=True).first.wait_for()
        page.screenshot(path=str(shots / "02_client_partitions.png"), full_page=True)

        # A materialization of the whole graph for one client, launched as the UI launches it.
        keys = [{"path": key.path} for asset in build_assets() for key in asset.keys]
        params = {
            "selector": {
                "repositoryLocationName": "forecast_assets",
                "repositoryName": "__repository__",
                "pipelineName": "__ASSET_JOB",
                "assetSelection": keys,
            },
            "mode": "default",
            "runConfigData": {},
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": client_id}]},
        }
        launched = dev.graphql(LAUNCH, {"params": params})["launchPipelineExecution"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        page.goto(f"{dev.url}/runs/{run_id}")

        def run_done():
            run = instance.get_run_by_id(run_id)
            return run if run and run.is_finished else None

        run = dev.wait_for(run_done, RUN_TIMEOUT, f"run {run_id} to finish")
        assert run.status == DagsterRunStatus.SUCCESS, dev.log_tail()
        page.reload()
        page.get_by_text("Success", exact=True).first.wait_for()
        page.get_by_text(run_id[:8]).first.wait_for()
        page.get_by_text("Loading run logs").first.wait_for(state="hidden")
        page.wait_for_timeout(1500)
        page.screenshot(path=str(shots / "03_finished_run.png"), full_page=True)
        browser.close()

    for name in ("01_asset_graph.png", "02_client_partitions.png", "03_finished_run.png"):
        assert (shots / name).stat().st_size > 10_000
