"""Peak memory of ingesting one large sales file: it should stay bounded whatever the file's size.

Writes a client with ``--items`` x ``--days`` sales rows (20 million by default) as CSV under a
temporary directory (never the repository), then validates it with ``ingest_client`` in a child
process, and prints the child's peak RSS against the file size. The child does only ingestion, so
its peak is ingestion's: the batches of text rows, the product catalogue and DuckDB's duplicate
check within its memory limit. Run it as ``nice .venv/bin/python benchmarks/ingest_memory.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

START = dt.date(2010, 1, 1)


def write_client(folder: Path, items: int, days: int, chunk_days: int = 250) -> Path:
    """A products file and a sales CSV of items x days rows, written a slice of days at a time."""
    folder.mkdir(parents=True)
    ids = [f"SKU-{i:06d}" for i in range(items)]
    pl.DataFrame(
        {"item_id": ids, "name": ids, "category": "c", "unit_cost": 1.0, "price": 2.0, "lead_time_days": 3.0}
    ).write_csv(folder / "products.csv")
    sales = folder / "sales.csv"
    with sales.open("w") as handle:
        handle.write("date,item_id,units_sold,price\n")
        for first in range(0, days, chunk_days):
            span = range(first, min(days, first + chunk_days))
            dates = pl.Series("date", [START + dt.timedelta(days=d) for d in span])
            chunk = (
                pl.DataFrame({"date": dates})
                .join(pl.DataFrame({"item_id": ids}), how="cross")
                .with_columns(units_sold=(pl.int_range(pl.len()) % 17).cast(pl.Float64), price=pl.lit(2.5))
            )
            handle.write(chunk.write_csv(include_header=False))
    return sales


def ingest(landing: Path) -> None:
    """The child: ingest the client and print what it accepted."""
    from forecast_assets.core.landing.validation import ingest_client

    started = time.perf_counter()
    result = ingest_client(landing, "big", today=dt.date(2026, 1, 1), spool_dir=landing.parent / "spool")
    print(result.counts("sales"), f"{time.perf_counter() - started:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=4000)
    parser.add_argument("--days", type=int, default=5000)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        ingest(args.child)
        return
    with tempfile.TemporaryDirectory(prefix="ingest-memory-") as tmp:
        landing = Path(tmp) / "landing"
        (Path(tmp) / "spool").mkdir()
        sales = write_client(landing / "big", args.items, args.days)
        rows = args.items * args.days
        size_mb = sales.stat().st_size / 2**20
        print(f"sales.csv: {rows:,} rows, {size_mb:,.0f} MB", flush=True)
        subprocess.run([sys.executable, __file__, "--child", str(landing)], check=True)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
        print(f"peak RSS of ingestion: {peak_mb:,.0f} MB for a {size_mb:,.0f} MB file ({rows:,} rows)")


if __name__ == "__main__":
    main()
