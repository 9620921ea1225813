"""The pure logic behind the landing sensor, on real files: what counts as a new, finished delivery."""

import os
import shutil
from pathlib import Path

import pytest

from forecast_assets.core.clients import InvalidClientKey
from forecast_assets.core.landing.watch import (
    READY_MARKER,
    ClientDelivery,
    DeliveryChanged,
    FileStamp,
    Requested,
    WatchState,
    check_delivery,
    decide,
    delivery_digest,
    run_key,
    scan_client,
    scan_landing,
)
from forecast_assets.demo.sample_data import DemoClient, write_demo_landing

CLIENT = DemoClient("corner_shop", n_items=2, sales_format="csv", base_level=5.0, seed=1)
LATER = 1e12  # a "now" long after every file was written: settling never holds a delivery back


@pytest.fixture
def landing(tmp_path):
    folder = tmp_path / "landing"
    write_demo_landing(folder, clients=(CLIENT,), history_days=120)
    return folder


def looks(landing: Path, n: int, state: WatchState | None = None, **kwargs):
    """``n`` looks of the sensor in a row, each from the state the previous one left."""
    state = state or WatchState()
    now = kwargs.pop("now", LATER)
    decisions = []
    for _ in range(n):
        decisions.append(decide(landing, state, now, settle_seconds=0, **kwargs))
        state = decisions[-1].state
    return decisions


def test_digest_follows_content_not_timestamps(landing):
    folder = landing / "corner_shop"
    seen = scan_client(folder, "corner_shop")
    first = scan_client(folder, "corner_shop", seen.files)
    assert set(first.files) >= {"sales.csv", "products.csv", "promotions.csv", "stock_levels.csv"}

    # Touched, or copied again with the same bytes: the same delivery.
    os.utime(folder / "sales.csv", (1_000_000, 1_000_000))
    (folder / "products.csv").write_bytes((folder / "products.csv").read_bytes())
    seen = scan_client(folder, "corner_shop", first.files)
    assert scan_client(folder, "corner_shop", seen.files).digest == first.digest

    # One changed byte: a new delivery.
    with (folder / "sales.csv").open("a") as handle:
        handle.write("\n")
    seen = scan_client(folder, "corner_shop", first.files)
    assert scan_client(folder, "corner_shop", seen.files).digest != first.digest

    # A file ingestion does not read (not a landing kind) changes nothing.
    (folder / "notes.txt").write_text("hello")
    assert "notes.txt" not in scan_client(folder, "corner_shop").files


def test_unchanged_files_are_not_read_again(landing):
    """A cached hash is trusted while size and mtime match: hashing large deliveries every tick
    would make the sensor slower than its interval."""
    folder = landing / "corner_shop"
    stat = (folder / "sales.csv").stat()
    known = {"sales.csv": FileStamp(stat.st_size, stat.st_mtime_ns, "cached-hash")}
    cached = scan_client(folder, "corner_shop", known)
    assert cached.files["sales.csv"].sha256 == "cached-hash" and "sales.csv" not in cached.hashed
    os.utime(folder / "sales.csv", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    touched = scan_client(folder, "corner_shop", known)
    assert touched.files["sales.csv"].sha256 is None and "sales.csv" in touched.changing


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
        run_key("../etc", 1, "abc")


HASHED = FileStamp(10, 1_000_000_000, "h")
UNHASHED = FileStamp(10, 1_000_000_000)


@pytest.mark.parametrize(
    ("delivery", "now", "reason"),
    [
        (ClientDelivery("c", {"sales.csv": HASHED, "products.csv": HASHED}, newest_mtime=1.0), 100, None),
        (ClientDelivery("c", {"sales.csv": HASHED}, ("products",), 1.0), 100, "waiting for products"),
        (
            ClientDelivery("c", {"sales.csv": UNHASHED}, newest_mtime=1.0, changing=("sales.csv",)),
            100,
            "sales.csv changed since the last look",
        ),
        (
            ClientDelivery("c", {"sales.csv": UNHASHED}, newest_mtime=1.0, deferred=("sales.csv",)),
            100,
            "hashed at a later look",
        ),
        # Unchanged at two looks, but written less than settle_seconds (10) ago.
        (ClientDelivery("c", {"sales.csv": HASHED}, newest_mtime=95.0), 100, "less than 10s ago"),
        # A _READY marker newer than the files: run at once, however recent.
        (ClientDelivery("c", {"sales.csv": HASHED}, newest_mtime=99.0, marked_ready=True), 100, None),
        # ... but never without the kinds ingestion needs.
        (ClientDelivery("c", {}, ("sales", "products"), marked_ready=True), 100, "waiting for sales"),
    ],
)
def test_when_a_delivery_is_ready(delivery, now, reason):
    got = delivery.wait_reason(now, settle_seconds=10)
    assert got is None if reason is None else reason in got


def test_a_file_cut_mid_row_is_never_run_cut(tmp_path):
    """A sales file cut mid-row (``...,12`` of ``120``), old enough to pass any settle time, is not
    run at first sight; the upload resumes before the next look, and the whole file is run."""
    landing = tmp_path / "landing"
    write_demo_landing(tmp_path / "full", clients=(CLIENT,), history_days=120)
    shutil.copytree(tmp_path / "full/corner_shop", landing / "corner_shop")
    sales = landing / "corner_shop/sales.csv"
    whole = sales.read_bytes()
    sales.write_bytes(whole[: len(whole) // 2 + 3])
    os.utime(sales, (1_000_000, 1_000_000))  # stalled long ago

    [first] = looks(landing, 1)
    assert first.to_run == {} and "changed since the last look" in first.waiting["corner_shop"]
    assert "sales.csv" not in first.hashed.get("corner_shop", ())

    sales.write_bytes(whole)  # the upload resumes and finishes before the next look
    second, third = looks(landing, 2, first.state)
    assert second.to_run == {}
    assert list(third.to_run) == ["corner_shop"]
    assert third.to_run["corner_shop"].digest == delivery_digest(tmp_path / "full/corner_shop")


def test_a_stalled_upload_is_not_run_before_the_second_look(landing):
    """Files unchanged at one look only are not run, however old; unchanged at two, they are
    (a stall longer than a sensor interval needs the _READY marker to be told apart)."""
    for path in (landing / "corner_shop").iterdir():
        os.utime(path, (1_000_000, 1_000_000))
    first, second = looks(landing, 2)
    assert first.to_run == {} and list(second.to_run) == ["corner_shop"]


def test_the_first_unchanged_look_runs_and_settling_still_applies(landing):
    first, second = looks(landing, 2)
    assert first.to_run == {} and list(second.to_run) == ["corner_shop"]
    newest = max(p.stat().st_mtime for p in (landing / "corner_shop").iterdir())
    recent = decide(landing, first.state, newest + 1, settle_seconds=5)
    assert recent.to_run == {} and "less than 5s ago" in recent.waiting["corner_shop"]


def test_a_ready_marker_runs_the_delivery_at_once_unless_a_file_is_newer(landing):
    folder = landing / "corner_shop"
    newest = max(p.stat().st_mtime_ns for p in folder.iterdir())
    (folder / READY_MARKER).touch()
    os.utime(folder / READY_MARKER, ns=(newest, newest))
    [first] = looks(landing, 1, now=newest / 1e9)  # first sight, written this very moment
    assert list(first.to_run) == ["corner_shop"]

    # The next delivery is being uploaded after the old marker: the marker no longer counts.
    with (folder / "sales.csv").open("a") as handle:
        handle.write("2026-10-30,corner_shop_item_000,1")
    os.utime(folder / "sales.csv", ns=(newest + 10**9, newest + 10**9))
    [stale_marker] = looks(landing, 1, first.state)
    assert stale_marker.to_run == {} and "changed since the last look" in stale_marker.waiting["corner_shop"]

    # A linked marker is not a marker.
    (folder / READY_MARKER).unlink()
    (folder / READY_MARKER).symlink_to(folder / "products.csv")
    assert not scan_client(folder, "corner_shop").marked_ready


def test_a_growing_file_is_never_hashed(landing):
    sales = landing / "corner_shop/sales.csv"
    state = WatchState()
    for size in range(5):
        with sales.open("a") as handle:
            handle.write(f"2026-10-{10 + size},corner_shop_item_000,{size}\n")
        [decision] = looks(landing, 1, state)
        assert "sales.csv" not in decision.hashed.get("corner_shop", ())
        assert decision.state.stamps["corner_shop"]["sales.csv"].sha256 is None
        assert decision.to_run == {}
        state = decision.state


def test_a_reverted_delivery_runs_again(landing):
    """A -> B -> A: three runs, three run keys (the delivery number tells A's two runs apart)."""
    sales = landing / "corner_shop/sales.csv"
    a = sales.read_bytes()
    _, first = looks(landing, 2)
    sales.write_bytes(a + b"2026-10-30,corner_shop_item_000,1\n")
    _, second = looks(landing, 2, first.state)
    sales.write_bytes(a)
    _, third = looks(landing, 2, second.state)
    runs = [d.to_run["corner_shop"] for d in (first, second, third)]
    assert [r.sequence for r in runs] == [1, 2, 3]
    assert runs[0].digest == runs[2].digest != runs[1].digest
    assert len({run_key("corner_shop", r.sequence, r.digest) for r in runs}) == 3
    # Unchanged afterwards: no fourth run.
    assert all(d.to_run == {} for d in looks(landing, 2, third.state))


def test_symbolic_links_are_never_followed(landing, tmp_path):
    write_demo_landing(
        tmp_path / "other", clients=(DemoClient("globex", 2, "csv", 5.0, 3),), history_days=120
    )
    globex = tmp_path / "other/globex"
    (landing / "linked_shop").symlink_to(globex, target_is_directory=True)
    folder = landing / "corner_shop"
    (folder / "products.csv").unlink()
    (folder / "products.csv").symlink_to(globex / "products.csv")
    (folder / "promotions").symlink_to(globex, target_is_directory=True)  # a linked kind folder

    first, second = looks(landing, 2)
    assert list(second.state.stamps) == ["corner_shop"]  # the linked client folder is no client
    assert "linked_shop" not in first.to_run and "linked_shop" not in second.waiting
    # products.csv is a link: the client lacks products and waits; globex's bytes were never read.
    assert "waiting for products" in second.waiting["corner_shop"]
    assert "products.csv" not in second.state.stamps["corner_shop"]
    # Reported once, at the first look.
    assert first.new_links == ["linked_shop", "corner_shop/products.csv", "corner_shop/promotions"]
    assert second.new_links == []


def test_one_huge_client_does_not_stall_the_others(tmp_path):
    """With a budget of one file per look, looks alternate between clients instead of working
    through the big delivery first."""
    landing = tmp_path / "landing"
    clients = (DemoClient("big_shop", 2, "csv", 5.0, 1), DemoClient("small_shop", 2, "csv", 5.0, 2))
    write_demo_landing(landing, clients=clients, history_days=120)
    decisions = looks(landing, 4, hash_budget_bytes=1)
    assert decisions[0].hashed == {}
    assert [list(d.hashed) for d in decisions[1:]] == [["big_shop"], ["small_shop"], ["big_shop"]]
    assert all(len(files) == 1 for d in decisions[1:] for files in d.hashed.values())
    rest = looks(landing, 12, decisions[-1].state, hash_budget_bytes=1)
    ran = [client for d in rest for client in d.to_run]
    assert sorted(ran) == ["big_shop", "small_shop"]


def test_the_run_checks_it_ingests_the_delivery_the_sensor_decided_on(landing):
    folder = landing / "corner_shop"
    _, decision = looks(landing, 2)
    digest = decision.to_run["corner_shop"].digest
    assert delivery_digest(folder) == digest
    check_delivery(folder, digest)
    check_delivery(folder, digest[:24])  # runs started before the full digest was carried
    with (folder / "sales.csv").open("a") as handle:
        handle.write("2026-10-30,corner_shop_item_000,1")
    with pytest.raises(DeliveryChanged, match=r"changed after the sensor saw it: .*re-run when it settles"):
        check_delivery(folder, digest)


def test_the_cursor_round_trips_and_reads_the_old_format(landing):
    first, second = looks(landing, 2)
    assert WatchState.from_cursor(first.state.to_cursor()) == first.state  # unhashed stamps (None)
    assert WatchState.from_cursor(second.state.to_cursor()) == second.state
    digest = second.to_run["corner_shop"].digest
    old = WatchState.from_cursor(f'{{"requested": {{"corner_shop": "{digest}"}}}}')
    assert old.requested == {"corner_shop": Requested(1, digest)}
    # The same delivery is not requested again after the upgrade.
    assert all(d.to_run == {} for d in looks(landing, 2, old))


def test_invalid_names_are_reported_once(landing):
    (landing / "Bad-Name").mkdir()
    first, second = looks(landing, 2)
    assert first.new_invalid == ["Bad-Name"]
    assert second.new_invalid == [] and second.state.reported_invalid == ["Bad-Name"]
