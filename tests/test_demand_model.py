"""`ts_demand_daily`, built by real dbt from validated landing files: stock-outs are missing demand.

A client that sends weekly stock snapshots tells us the shelf was empty on the snapshot day only;
the empty-shelf days after it (no sales, no new snapshot) are stock-outs too, until the next
snapshot or the next day with sales.
"""

import datetime as dt

from forecast_assets.core.landing.validation import ingest_client
from forecast_assets.resources.warehouse import TableWrite, Warehouse

from .backends import BACKEND, SCRATCH, sql_rows
from .test_marts import dbt

START = dt.date(2026, 3, 2)


def _landing(root, client: str) -> None:
    folder = root / client
    folder.mkdir(parents=True)
    (folder / "products.csv").write_text(
        "item_id,name,category,unit_cost,price,lead_time_days\na,Apples,fruit,0.5,1.0,3\n"
    )
    # Sales every day except days 10-13 (an empty shelf) and day 20 (a real zero-demand day).
    sales = ["date,item_id,units_sold"] + [
        f"{START + dt.timedelta(days=d)},a,5" for d in range(28) if d not in (10, 11, 12, 13, 20)
    ]
    (folder / "sales.csv").write_text("\n".join(sales) + "\n")
    # Weekly snapshots: day 7 in stock, day 10 empty (sold out that morning), day 17 restocked.
    (folder / "stock_levels.csv").write_text(
        "item_id,date,on_hand,on_order\n"
        f"a,{START + dt.timedelta(days=7)},40,0\n"
        f"a,{START + dt.timedelta(days=10)},0,50\n"
        f"a,{START + dt.timedelta(days=17)},60,0\n"
    )


def test_a_zero_snapshot_flags_the_days_until_the_next_sale_or_snapshot(tmp_path):
    client = "weekly_snaps"
    _landing(tmp_path / "landing", client)
    url = SCRATCH.create("demand") if BACKEND == "postgres" else f"duckdb:///{tmp_path / 'w.duckdb'}"
    result = ingest_client(tmp_path / "landing", client, today=dt.date(2026, 12, 1))
    writes = [TableWrite(f"raw.{kind}", frame) for kind, frame in result.accepted.items()]
    Warehouse(url=url).replace_client_rows(client, [*writes, TableWrite("raw.rejects", result.rejects)])

    run = dbt(["build", "--select", "+ts_demand_daily"], url, tmp_path, client)
    assert run.returncode == 0, run.stdout[-3000:]

    flagged = {
        (day - START).days
        for (day,) in sql_rows(
            url,
            f"select date from analytics.ts_demand_daily where client_id = '{client}' and is_stockout = 1",
        )
    }
    assert flagged == {10, 11, 12, 13}, "day 14 sold again; day 20 is a zero with the shelf stocked"
