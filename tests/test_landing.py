import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from forecast_assets.core.landing.validation import DeliveryError, LandingError, ingest_client

TODAY = dt.date(2026, 11, 23)
PRODUCTS = "item_id,name,category,unit_cost,price,lead_time_days\nA,Apple,fresh,1,2,3\nB,Bread,bakery,1,3,2\n"


def write_client(
    root: Path, sales: str, products: str = PRODUCTS, extra: dict[str, str] | None = None
) -> Path:
    folder = root / "acme"
    folder.mkdir(parents=True)
    (folder / "products.csv").write_text(products)
    (folder / "sales.csv").write_text(sales)
    for name, text in (extra or {}).items():
        (folder / name).write_text(text)
    return root


def reasons(result) -> list[tuple[str, int, str, str]]:
    return [
        (r["source_file"], r["source_row"], r["field"], r["reason"])
        for r in result.rejects.iter_rows(named=True)
    ]


def test_bad_rows_are_rejected_with_file_row_field_and_reason(tmp_path):
    sales = (
        "date,item_id,units_sold,price\n"
        "2026-11-01,A,5,2.0\n"  # row 1 ok
        "2026-11-02,A,-1,2.0\n"  # row 2 negative
        "2026-11-03,Z,4,2.0\n"  # row 3 unknown item
        "2027-01-01,A,4,2.0\n"  # row 4 future
        "2026-11-01,A,7,2.0\n"  # row 5 duplicate of row 1
        "2026-11-04,B,lots,2.0\n"  # row 6 not a number
        "2026-13-45,B,3,2.0\n"  # row 7 not a date
        "2026-11-05,B,,2.0\n"  # row 8 missing value
        "2026-11-06,B,2,\n"  # row 9 ok (price optional)
    )
    result = ingest_client(write_client(tmp_path, sales), "acme", today=TODAY)
    got = {row: (field, reason) for _, row, field, reason in reasons(result)}
    assert got[2] == ("units_sold", "negative value -1.0")
    assert got[3] == ("item_id", "unknown item_id 'Z'")
    assert got[4] == ("date", "dated in the future (after 2026-11-23)")
    assert got[5] == ("item_id, date", "duplicate (item_id, date) of acme/sales.csv row 1")
    assert got[6] == ("units_sold", "not a valid number: 'lots'")
    assert got[7] == ("date", "not a valid date (YYYY-MM-DD): '2026-13-45'")
    assert got[8] == ("units_sold", "missing value")
    assert set(got) == {2, 3, 4, 5, 6, 7, 8}
    assert all(f == "acme/sales.csv" for f, *_ in reasons(result))
    assert result.accepted["sales"]["source_row"].to_list() == [1, 9]
    counts = result.counts("sales")
    assert counts == {"rows_in": 9, "accepted": 2, "rejected": 7}


def test_missing_required_column_refuses_the_delivery_naming_the_file(tmp_path):
    with pytest.raises(DeliveryError, match=r"acme/sales.csv: required columns missing: 'units_sold'"):
        ingest_client(write_client(tmp_path, "date,item_id\n2026-11-01,A\n2026-11-02,B\n"), "acme", TODAY)


def test_every_row_is_accounted_for_across_csv_and_parquet(tmp_path):
    root = write_client(tmp_path, "date,item_id,units_sold\n2026-11-01,A,1\n2026-11-01,A,2\n")
    pl.DataFrame(
        {"date": ["2026-11-02", "2026-11-03"], "item_id": ["B", "B"], "units_sold": [3.0, -2.0]}
    ).write_parquet(root / "acme" / "sales_extra.parquet")
    result = ingest_client(root, "acme", TODAY)
    counts = result.counts("sales")
    assert counts["rows_in"] == 4
    assert counts["accepted"] + counts["rejected"] == counts["rows_in"]
    assert counts["accepted"] == 2


def test_promotions_end_before_start_is_rejected(tmp_path):
    promos = (
        "item_id,start_date,end_date,promo_type,discount\n"
        "A,2026-11-10,2026-11-01,discount,0.1\n"
        "A,2026-12-01,2026-12-07,discount,0.2\n"
    )
    result = ingest_client(
        write_client(tmp_path, "date,item_id,units_sold\n2026-11-01,A,1\n", extra={"promotions.csv": promos}),
        "acme",
        TODAY,
    )
    assert result.counts("promotions") == {"rows_in": 2, "accepted": 1, "rejected": 1}
    assert ("end_date", "end_date is before start_date") in [(r[2], r[3]) for r in reasons(result)]


def test_missing_landing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(LandingError, match="no landing folder for client 'ghost'"):
        ingest_client(tmp_path, "ghost", TODAY)


def test_events_become_long_rows_and_bad_ones_are_rejected(tmp_path):
    events = (
        "date,payday,Local Event\n"  # 'local event' is not a usable covariate name
        "2026-11-01,1,0\n"
    )
    good = (
        "date,payday,fair\n"
        "2026-11-01,1,0\n"  # row 1 ok
        "2026-11-02,,1\n"  # row 2 ok: an empty cell is no event (0)
        "2026-11-40,1,0\n"  # row 3 bad date
        "2026-11-03,yes,0\n"  # row 4 not a number
        "2026-11-01,0,1\n"  # row 5 duplicate date of row 1
        "2027-03-01,0,1\n"  # row 6 ok: events are known in advance, future dates welcome
    )
    root = write_client(
        tmp_path,
        "date,item_id,units_sold\n2026-11-01,A,1\n",
        extra={"events.csv": good, "events_bad.csv": events},
    )
    result = ingest_client(root, "acme", today=TODAY)
    got = sorted(r for r in reasons(result) if r[0].startswith("acme/events"))
    assert got == [
        ("acme/events.csv", 3, "date", "not a valid date (YYYY-MM-DD): '2026-11-40'"),
        ("acme/events.csv", 4, "payday", "not a valid number: 'yes'"),
        ("acme/events.csv", 5, "date", "duplicate date 2026-11-01 of acme/events.csv row 1"),
        (
            "acme/events_bad.csv",
            1,
            "local event",
            "column name 'local event' must be lower-case letters, digits and _",
        ),
    ]
    counts = result.counts("events")
    assert counts == {"rows_in": 7, "accepted": 3, "rejected": 4}
    accepted = result.accepted["events"].sort("date", "event")
    assert accepted.select("date", "event", "value").rows() == [
        (dt.date(2026, 11, 1), "fair", 0.0),
        (dt.date(2026, 11, 1), "payday", 1.0),
        (dt.date(2026, 11, 2), "fair", 1.0),
        (dt.date(2026, 11, 2), "payday", 0.0),
        (dt.date(2027, 3, 1), "fair", 1.0),
        (dt.date(2027, 3, 1), "payday", 0.0),
    ]


def test_a_client_without_events_gets_an_empty_events_table(tmp_path):
    root = write_client(tmp_path, "date,item_id,units_sold\n2026-11-01,A,1\n")
    result = ingest_client(root, "acme", today=TODAY)
    assert result.accepted["events"].height == 0
    assert result.counts("events") == {"rows_in": 0, "accepted": 0, "rejected": 0}
