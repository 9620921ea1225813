"""The pure logic behind the landing sensor, on real files: what counts as a new delivery."""

import os

import pytest

from forecast_assets.core.clients import InvalidClientKey
from forecast_assets.core.landing.watch import (
    FileStamp,
    WatchState,
    decide,
    run_key,
    scan_client,
    scan_landing,
)
from forecast_assets.demo.sample_data import DemoClient, write_demo_landing

CLIENT = DemoClient("corner_shop", n_items=2, sales_format="csv", base_level=5.0, seed=1)


@pytest.fixture
def landing(tmp_path):
    folder = tmp_path / "landing"
    write_demo_landing(folder, clients=(CLIENT,), history_days=120)
    return folder


def test_digest_follows_content_not_timestamps(landing):
    folder = landing / "corner_shop"
    first = scan_client(folder, "corner_shop")
    assert set(first.files) >= {"sales.csv", "products.csv", "promotions.csv", "stock_levels.csv"}

    # Touched, or copied again with the same bytes: the same delivery.
    os.utime(folder / "sales.csv", (1_000_000, 1_000_000))
    (folder / "products.csv").write_bytes((folder / "products.csv").read_bytes())
    assert scan_client(folder, "corner_shop", first.files).digest == first.digest

    # One changed byte: a new delivery.
    with (folder / "sales.csv").open("a") as handle:
        handle.write("\n")
    assert scan_client(folder, "corner_shop", first.files).digest != first.digest

    # A file ingestion does not read (not a landing kind) changes nothing.
    (folder / "notes.txt").write_text("hello")
    changed = scan_client(folder, "corner_shop")
    assert "notes.txt" not in changed.files


def test_unchanged_files_are_not_read_again(landing):
    """A cached hash is trusted while size and mtime match: hashing large deliveries every tick
    would make the sensor slower than its interval."""
    folder = landing / "corner_shop"
    stat = (folder / "sales.csv").stat()
    known = {"sales.csv": FileStamp(stat.st_size, stat.st_mtime_ns, "cached-hash")}
    assert scan_client(folder, "corner_shop", known).files["sales.csv"].sha256 == "cached-hash"
    os.utime(folder / "sales.csv", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert scan_client(folder, "corner_shop", known).files["sales.csv"].sha256 != "cached-hash"


def test_invalid_folder_names_are_listed_never_scanned(landing):
    (landing / "Not A Client").mkdir()
    (landing / ".partial_upload").mkdir()
    (landing / "stray_file.csv").write_text("x")
    scan = scan_landing(landing)
    assert list(scan.deliveries) == ["corner_shop"]
    assert scan.invalid_names == ["Not A Client"]
    with pytest.raises(InvalidClientKey):
        scan_client(landing / "Not A Client", "Not A Client")
    with pytest.raises(InvalidClientKey):
        run_key("../etc", "abc")


def test_decide_waits_for_a_complete_settled_delivery_and_runs_it_once(tmp_path):
    landing = tmp_path / "landing"
    folder = landing / "late_shop"
    folder.mkdir(parents=True)
    write_demo_landing(
        tmp_path / "full", clients=(DemoClient("late_shop", 2, "csv", 5.0, 2),), history_days=120
    )
    (folder / "sales.csv").write_bytes((tmp_path / "full/late_shop/sales.csv").read_bytes())
    now = (folder / "sales.csv").stat().st_mtime

    # Sales without products: ingestion would reject every row, so it is not run yet.
    decision = decide(landing, WatchState(), now + 60, settle_seconds=5)
    assert decision.to_run == {} and "products" in decision.waiting["late_shop"]

    (folder / "products.csv").write_bytes((tmp_path / "full/late_shop/products.csv").read_bytes())
    now = (folder / "products.csv").stat().st_mtime
    # Complete but written a second ago: maybe still being copied.
    decision = decide(landing, WatchState(), now + 1, settle_seconds=5)
    assert decision.to_run == {} and "still being written" in decision.waiting["late_shop"]

    decision = decide(landing, WatchState(), now + 6, settle_seconds=5)
    assert list(decision.to_run) == ["late_shop"]
    digest = decision.to_run["late_shop"]
    assert run_key("late_shop", digest) == f"late_shop-{digest[:24]}"

    # The cursor round-trips through JSON, and the same delivery is not requested again.
    state = WatchState.from_cursor(decision.state.to_cursor())
    assert state.requested == {"late_shop": digest}
    again = decide(landing, state, now + 60, settle_seconds=5)
    assert again.to_run == {} and again.waiting == {}


def test_invalid_names_are_reported_once(landing):
    (landing / "Bad-Name").mkdir()
    first = decide(landing, WatchState(), 1e12, settle_seconds=0)
    assert first.new_invalid == ["Bad-Name"]
    second = decide(landing, first.state, 1e12, settle_seconds=0)
    assert second.new_invalid == [] and second.state.reported_invalid == ["Bad-Name"]
