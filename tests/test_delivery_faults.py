"""A fault corpus: real-world mistakes in a landing folder, each with the outcome a user should get.

Every case starts from one good client folder and spoils it. A file-level defect refuses the whole
delivery with one message naming the file (nothing is written, so the client's previous data stays:
see the end-to-end test below); a row-level defect rejects the row with its file, row, field and
reason while the rest load; and for every row-level case rows_in = accepted + rejected.
"""

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from dagster import AssetSelection, DagsterInstance, materialize

from forecast_assets.core.landing.validation import (
    ALL_KINDS,
    DeliveryError,
    LandingLimits,
    ingest_client,
    shrink_problem,
)
from forecast_assets.definitions import build_assets, build_resource_defs
from forecast_assets.defs.partitions import clients_partitions

from .backends import sql_rows
from .conftest import make_settings

TODAY = dt.date(2026, 11, 23)
PRODUCTS = "item_id,name,category,unit_cost,price,lead_time_days\nA,Apple,fresh,1,2,3\nB,Bread,bakery,1,3,2\n"
SALES = "date,item_id,units_sold\n2026-11-01,A,5\n2026-11-02,A,3\n2026-11-01,B,2\n"
PROMOTIONS = "item_id,start_date,end_date,promo_type,discount\nA,2026-11-05,2026-11-09,discount,0.1\n"
STOCK = "item_id,date,on_hand,on_order\nA,2026-11-02,10,0\n"
EVENTS = "date,payday\n2026-11-01,1\n"


def good_client(root: Path, client: str = "acme") -> Path:
    folder = root / client
    folder.mkdir(parents=True)
    for name, text in {
        "products.csv": PRODUCTS,
        "sales.csv": SALES,
        "promotions.csv": PROMOTIONS,
        "stock_levels.csv": STOCK,
        "events.csv": EVENTS,
    }.items():
        (folder / name).write_text(text)
    return folder


def write(name: str, content: str | bytes) -> Callable[[Path], None]:
    def spoil(folder: Path) -> None:
        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    return spoil


def remove(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).unlink()


def link_to_other_client(folder: Path) -> None:
    other = good_client(folder.parent, "globex")
    (folder / "products.csv").unlink()
    (folder / "products.csv").symlink_to(other / "products.csv")


def link_client_folder(folder: Path) -> None:
    elsewhere = folder.parent.parent / "elsewhere"
    folder.rename(elsewhere)
    folder.symlink_to(elsewhere, target_is_directory=True)


def add_items(products: str, sales: str) -> Callable[[Path], None]:
    """Products and their sales appended to the good files."""

    def spoil(folder: Path) -> None:
        write("products.csv", PRODUCTS + products)(folder)
        write("sales.csv", SALES + sales)(folder)

    return spoil


def parquet_sales(frame: dict) -> Callable[[Path], None]:
    def spoil(folder: Path) -> None:
        (folder / "sales.csv").unlink()
        pl.DataFrame(frame).write_parquet(folder / "sales.parquet")

    return spoil


def truncated_parquet(folder: Path) -> None:
    parquet_sales({"date": ["2026-11-01"], "item_id": ["A"], "units_sold": [5.0]})(folder)
    data = (folder / "sales.parquet").read_bytes()
    (folder / "sales.parquet").write_bytes(data[: len(data) // 2])


# (case, spoil, the message naming the file and what is wrong)
REFUSED = [
    (
        "semicolon delimiter",
        write("sales.csv", SALES.replace(",", ";")),
        "acme/sales.csv: columns are separated by ';'",
    ),
    (
        "missing units_sold",
        write("sales.csv", "date,item_id\n2026-11-01,A\n"),
        "acme/sales.csv: required columns missing: 'units_sold'",
    ),
    (
        "header-only sales",
        write("sales.csv", "date,item_id,units_sold\n"),
        "acme/sales.csv: no data rows, only a header",
    ),
    (
        "header-only products",
        write("products.csv", PRODUCTS.splitlines()[0] + "\n"),
        "acme/products.csv: no data rows",
    ),
    ("missing products file", remove("products.csv"), "acme/: no products file"),
    ("missing sales file", remove("sales.csv"), "acme/: no sales file"),
    ("symlinked file into another client", link_to_other_client, "acme/products.csv: is a symbolic link"),
    ("symlinked client folder", link_client_folder, "acme/: the client's landing folder is a symbolic link"),
    (
        "duplicate column names",
        write("sales.csv", "date,item_id,units_sold,Units_Sold\n2026-11-01,A,5,5\n"),
        "acme/sales.csv: column names appear more than once: 'units_sold'",
    ),
    (
        "reserved column names in events",
        write("events.csv", "date,source_row,client_id\n2026-11-01,1,x\n"),
        "acme/events.csv: column names reserved for lineage: 'client_id', 'source_row'",
    ),
    ("truncated parquet", truncated_parquet, "acme/sales.parquet: cannot be read as Parquet"),
    ("empty sales file", write("sales.csv", b""), "acme/sales.csv: the file is empty"),
    ("empty promotions file", write("promotions.csv", b""), "acme/promotions.csv: the file is empty"),
    (
        "header not UTF-8",
        write("sales.csv", b"d\xe4te,item_id,units_sold\n2026-11-01,A,5\n"),
        "acme/sales.csv: the header row is not UTF-8",
    ),
    (
        "tab-separated",
        write("sales.csv", SALES.replace(",", "\t")),
        "acme/sales.csv: columns are separated by tab",
    ),
]


@pytest.mark.parametrize(("case", "spoil", "message"), REFUSED, ids=[c[0] for c in REFUSED])
def test_a_file_level_defect_refuses_the_delivery_naming_the_file(tmp_path, case, spoil, message):
    spoil(good_client(tmp_path / "landing"))
    with pytest.raises(DeliveryError, match=re.escape(message)) as refused:
        ingest_client(tmp_path / "landing", "acme", TODAY)
    assert "previous data is kept unchanged" in str(refused.value)


def test_a_file_past_the_size_limit_refuses_the_delivery(tmp_path):
    good_client(tmp_path / "landing")
    with pytest.raises(DeliveryError, match=r"acme/sales.csv: 0 MB is over the limit of 0 MB per file"):
        ingest_client(tmp_path / "landing", "acme", TODAY, LandingLimits(max_file_mb=1e-6))


# (case, spoil, kind, expected rejects {(row, field, reason)}, expected accepted rows of that kind)
REORDERED = "note,units_sold,item_id,date\nx,5,A,2026-11-01\ny,3,A,2026-11-02\n"
SQL_ID = "x'); drop table raw.sales;--"
LATIN1_SALES = (SALES + "2026-11-03,A\xe9,4\n").encode("latin-1")
ROW_LEVEL = [
    (
        "ragged row (unquoted comma)",
        write("sales.csv", SALES + "2026-11-03,A,4,000\n"),
        "sales",
        {(4, "row", "has 4 fields, the header has 3 (an unquoted comma?)")},
        3,
    ),
    (
        "Latin-1 bytes in a cell",
        write("sales.csv", LATIN1_SALES),
        "sales",
        {(4, "item_id", "not valid UTF-8 text (save the file as UTF-8)")},
        3,
    ),
    (
        "NUL in a product name",
        write("products.csv", PRODUCTS.replace("Bread", "Br\x00ead")),
        "products",
        {(2, "name", "contains a control character (such as NUL)")},
        1,
    ),
    (
        "0001-01-01",
        write("sales.csv", SALES + "0001-01-01,A,4\n"),
        "sales",
        {(4, "date", "dated before 2000-01-01, the earliest date accepted (EARLIEST_DATE)")},
        3,
    ),
    (
        "2025-01-05garbage",
        write("sales.csv", SALES + "2025-01-05garbage,A,4\n"),
        "sales",
        {(4, "date", "not a valid date (YYYY-MM-DD): '2025-01-05garbage'")},
        3,
    ),
    (
        "duplicates",
        write("sales.csv", SALES + "2026-11-01,A,9\n"),
        "sales",
        {(4, "item_id, date", "duplicate (item_id, date) of acme/sales.csv row 1")},
        3,
    ),
    (
        "future dates",
        write("sales.csv", SALES + "2027-01-01,A,4\n"),
        "sales",
        {(4, "date", "dated in the future (after 2026-11-23)")},
        3,
    ),
    (
        "unknown items",
        write("sales.csv", SALES + "2026-11-03,Z,4\n"),
        "sales",
        {(4, "item_id", "unknown item_id 'Z'")},
        3,
    ),
    (
        "parquet with wrong types",
        parquet_sales({"date": [20261101, 20261102], "item_id": ["A", "A"], "units_sold": ["5", "lots"]}),
        "sales",
        {
            (1, "date", "not a valid date (YYYY-MM-DD): '20261101'"),
            (2, "date", "not a valid date (YYYY-MM-DD): '20261102'"),
        },
        0,
    ),
    (
        "negative and non-numeric values",
        write("sales.csv", SALES + "2026-11-03,A,-1\n2026-11-04,A,n/a\n"),
        "sales",
        {(4, "units_sold", "negative value -1.0"), (5, "units_sold", "not a valid number: 'n/a'")},
        3,
    ),
    ("empty lead_time_days", write("products.csv", PRODUCTS.replace("1,2,3", "1,2,")), "products", set(), 2),
    (
        "no inventory columns at all",
        write("products.csv", "item_id,name,category,price\nA,a,x,2\nB,b,y,3\n"),
        "products",
        set(),
        2,
    ),
    ("BOM", write("sales.csv", b"\xef\xbb\xbf" + SALES.encode()), "sales", set(), 3),
    ("CRLF", write("sales.csv", SALES.replace("\n", "\r\n")), "sales", set(), 3),
    ("reordered and extra columns", write("sales.csv", REORDERED), "sales", set(), 2),
    ("SQL-looking ids", add_items(f"{SQL_ID},Evil,x,1,1,1\n", f"2026-11-01,{SQL_ID},1\n"), "sales", set(), 4),
    ("unicode ids", add_items("Ä-日本-ü,Umlaut,x,1,1,1\n", "2026-11-01,Ä-日本-ü,1\n"), "sales", set(), 4),
    (
        "short and all-zero items",
        add_items("C,c,x,1,1,1\nD,d,x,1,1,1\n", "2026-11-20,C,1\n2026-11-01,D,0\n2026-11-02,D,0\n"),
        "sales",
        set(),
        6,
    ),
    ("blank lines", write("sales.csv", SALES + "\n\n"), "sales", set(), 3),
]


@pytest.mark.parametrize(
    ("case", "spoil", "kind", "rejects", "accepted"), ROW_LEVEL, ids=[c[0] for c in ROW_LEVEL]
)
def test_a_row_level_defect_rejects_the_row_and_the_rest_load(tmp_path, case, spoil, kind, rejects, accepted):
    spoil(good_client(tmp_path / "landing"))
    result = ingest_client(tmp_path / "landing", "acme", TODAY)
    got = {
        (r["source_row"], r["field"], r["reason"])
        for r in result.rejects.filter(pl.col("kind") == kind).iter_rows(named=True)
    }
    assert got == rejects
    assert result.counts(kind)["accepted"] == accepted
    for each in ALL_KINDS:  # every input row is accounted for
        counts = result.counts(each)
        assert counts["rows_in"] == counts["accepted"] + counts["rejected"], each


def test_a_product_without_lead_time_keeps_its_sales_and_says_what_is_missing(tmp_path):
    write("products.csv", PRODUCTS.replace("1,2,3", "1,2,"))(good_client(tmp_path / "landing"))
    result = ingest_client(tmp_path / "landing", "acme", TODAY)
    products = result.accepted["products"]
    assert products.filter(pl.col("item_id") == "A")["lead_time_days"].to_list() == [None]
    assert result.counts("sales") == {"rows_in": 3, "accepted": 3, "rejected": 0}
    from forecast_assets.core.inventory.policy import what_is_missing

    assert "lead_time_days" in what_is_missing(True, False, True, True, "sigma")


def test_a_rejected_row_keeps_its_cells_and_an_accepted_row_none(tmp_path):
    write("sales.csv", SALES + "2026-11-03,A,-1\n")(good_client(tmp_path / "landing"))
    result = ingest_client(tmp_path / "landing", "acme", TODAY)
    assert result.rejects["record"].to_list() == ['{"date":"2026-11-03","item_id":"A","units_sold":"-1"}']
    assert "record" not in result.accepted["sales"].columns


SHRINK = [
    ("first delivery", 100, None, None),
    ("same size", 100, 100, None),
    ("half is still enough", 50, 100, None),
    ("below the share", 49, 100, "49 sales rows accepted, 49% of the 100 now stored"),
    ("nothing accepted", 0, None, "no sales row was accepted"),
    ("nothing accepted after a delivery", 0, 100, "no sales row was accepted"),
]


@pytest.mark.parametrize(("case", "accepted", "previous", "problem"), SHRINK, ids=[c[0] for c in SHRINK])
def test_a_delivery_that_shrinks_the_client_is_a_problem(case, accepted, previous, problem):
    found = shrink_problem(accepted, previous, 0.5)
    assert (found is None) if problem is None else (problem in found)


def _client_rows(settings, client: str) -> dict[str, list]:
    tables = ("raw.sales", "raw.products", "raw.rejects", "analytics.ts_demand_daily")
    query = "select * from {} where client_id = ?"
    return {t: sorted(sql_rows(settings.warehouse_url, query.format(t), [client]), key=repr) for t in tables}


def test_a_bad_delivery_fails_the_run_and_leaves_the_clients_rows_as_they_were(tmp_path, landing):
    settings = make_settings(tmp_path)
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(clients_partitions.name, ["shop_a"])
    selection = AssetSelection.groups("ingestion") | AssetSelection.keys("ts_demand_daily").upstream()

    def run(config: dict | None = None):
        return materialize(
            build_assets(),
            selection=selection,
            partition_key="shop_a",
            resources=build_resource_defs(settings),
            instance=instance,
            run_config={"ops": {"raw_landing": {"config": config}}} if config else None,
            raise_on_error=False,
        )

    assert run().success
    before = _client_rows(settings, "shop_a")
    assert before["raw.sales"] and before["analytics.ts_demand_daily"]
    sales = landing / "shop_a" / "sales.csv"
    good = sales.read_text()

    sales.write_text(good.replace(",", ";"))  # a European Excel export
    failed = run()
    assert not failed.success
    message = str(failed.get_step_failure_events()[0].event_specific_data.error)
    assert "shop_a/sales.csv: columns are separated by ';'" in message
    assert _client_rows(settings, "shop_a") == before

    sales.write_text("\n".join(good.splitlines()[:40]) + "\n")  # a partial export
    failed = run()
    assert not failed.success
    assert "accept_shrink" in str(failed.get_step_failure_events()[0].event_specific_data.error)
    assert _client_rows(settings, "shop_a") == before
    assert run({"accept_shrink": True}).success  # told to: the smaller delivery replaces the rows
    assert len(_client_rows(settings, "shop_a")["raw.sales"]) < len(before["raw.sales"])
