"""Accuracy on real Walmart demand (M5): the whole pipeline, scored on the official validation window.

Run on purpose (never in the test suite):

    .venv/bin/python benchmarks/m5_accuracy.py                 # writes docs/accuracy.md
    .venv/bin/python benchmarks/m5_accuracy.py --no-write      # print only

It reads ``../shared/data/m5/`` (the data stays there: nothing derived from it is written into the
repository except the aggregate scores), turns the 150-item file into two clients' landing
folders under ``--home`` (default ``var/m5``), runs the ``forecast_client`` job with
``as_of = 2016-04-24`` (M5 day 1913) and a 28-day horizon, then scores every model's forecast
from that origin, and the per-item champion, against the 28 days that followed (2016-04-25 ..
2016-05-22, the official validation window) with the pipeline's own metrics: WAPE, MASE
(weekly seasonal in-sample scale) and scaled quantile loss (fev's definition).

What the landing folders hold, and what they cannot:

- ``sales.csv``: date, item, units sold, the weekly shelf price (empty when not listed);
- ``events.csv``: the state's SNAP day and the M5 calendar events by type, past and future,
  so the event covariates reach Chronos-2;
- ``products.csv``: M5 has no costs or lead times: list price = the item's median shelf price,
  unit cost 70% of it and a 7-day lead time are placeholders (they only affect inventory rows);
- no promotions and no stock levels: M5 has neither, so zero-sales days count as demand.

Chronos-2 runs only where its weights can be loaded (``CHRONOS_MODEL_ID``: a local folder or a
reachable hub); otherwise its row says so and the champion is chosen among the baselines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import time
from pathlib import Path

import pandas as pd
import polars as pl

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DATA = REPO.parent / "shared" / "data" / "m5"
AS_OF = "2016-04-24"
HORIZON = 28
MARKER_START = "<!-- m5-table:start -->"
MARKER_END = "<!-- m5-table:end -->"
PUBLISHED = """| Chronos-2 | 0.703 | 0.880 | 0.722 |
| Chronos-Bolt | 0.711 | 0.885 | 0.729 |
| AutoETS | 0.771 | 1.063 | 0.853 |
| Seasonal naive | 0.916 | 1.224 | 1.254 |"""


def write_landing(data: Path, landing: Path, items: int | None) -> list[str]:
    """Landing folders for the clients of the 150-item file; returns the client keys."""
    sales = pl.read_parquet(data / "m5_2clients_150items_to_2016-05-22.parquet")
    calendar = pl.read_csv(data / "calendar.csv", try_parse_dates=True)
    clients = sorted(sales["client_id"].unique().to_list())
    for client in clients:
        rows = sales.filter(pl.col("client_id") == client)
        if items:
            keep = (
                rows.group_by("item_id").agg(pl.col("units_sold").sum()).sort("units_sold", descending=True)
            )
            rows = rows.filter(pl.col("item_id").is_in(keep["item_id"].head(items).implode()))
        state = rows["state_id"][0]
        folder = landing / client
        folder.mkdir(parents=True, exist_ok=True)
        rows.select(
            pl.col("date").dt.date(), "item_id", "units_sold", pl.col("sell_price").alias("price")
        ).write_csv(folder / "sales.csv")
        rows.group_by("item_id", "dept_id").agg(pl.col("sell_price").median().alias("price")).select(
            "item_id",
            pl.col("item_id").alias("name"),
            pl.col("dept_id").alias("category"),
            (pl.col("price") * 0.7).round(2).alias("unit_cost"),
            pl.col("price").round(2),
            pl.lit(7).alias("lead_time_days"),
        ).sort("item_id").write_csv(folder / "products.csv")
        event_types = ["Sporting", "Cultural", "National", "Religious"]
        calendar.select(
            "date",
            pl.col(f"snap_{state}").alias("snap"),
            *[
                ((pl.col("event_type_1") == t) | (pl.col("event_type_2") == t))
                .fill_null(False)
                .cast(pl.Int8)
                .alias(f"event_{re.sub('[^a-z]', '', t.lower())}")
                for t in event_types
            ],
        ).write_csv(folder / "events.csv")
    return clients


def score(settings, clients: list[str]) -> pd.DataFrame:
    """WAPE, MASE and scaled quantile loss per model and client, and over both clients."""
    from forecast_assets.core.evaluation.champions import choose_champions
    from forecast_assets.core.evaluation.scoring import live_accuracy
    from forecast_assets.defs.inputs import load_champions, load_demand, load_forecasts
    from forecast_assets.resources.warehouse import Warehouse

    warehouse = Warehouse(url=settings.warehouse_url)
    as_of = pd.Timestamp(AS_OF)
    parts = []
    for client in clients:
        demand = load_demand(warehouse, client, until=as_of + pd.Timedelta(days=HORIZON))
        forecasts = load_forecasts(warehouse, client, as_of)
        forecasts = forecasts[forecasts["kind"] == "forecast"]
        served = load_champions(warehouse, client, as_of)
        # What CHAMPION_SCOPE=item would have served: each item's best on the same backtests.
        evaluation = warehouse.read_client(
            "ml.forecast_evaluation", client, "as_of = ? and level = 'item'", [as_of.date()]
        ).to_pandas()
        available = forecasts.groupby("item_id")["model"].apply(set).to_dict()
        per_item = choose_champions(evaluation, sorted(available), available, metric=settings.champion_metric)
        variants = [(f"champion ({settings.champion_scope} scope, served)", served)]
        if settings.champion_scope != "item":
            variants.append(("champion (item scope)", per_item[["item_id", "champion_model"]]))
        rows = [forecasts]
        for label, champions in variants:
            chosen = forecasts.merge(
                champions, left_on=["item_id", "model"], right_on=["item_id", "champion_model"]
            ).assign(model=label)
            rows.append(chosen[forecasts.columns])
        rows = pd.concat(rows, ignore_index=True)
        accuracy = live_accuracy(rows, demand, settings.quantiles, levels=("item", "client"))
        accuracy["client_id"] = client
        parts.append(accuracy)
    return pd.concat(parts, ignore_index=True)


def table(accuracy: pd.DataFrame, chronos_status: str) -> str:
    """Markdown: per model, WAPE pooled over items, MASE and SQL averaged over items, per client."""
    items = accuracy[accuracy["level"] == "item"]
    clients = accuracy[accuracy["level"] == "client"]
    lines = [
        "| model | client | WAPE | MASE | scaled quantile loss | 10-90% coverage | items |",
        "|---|---|---|---|---|---|---|",
    ]
    order = sorted(clients["model"].unique(), key=lambda m: (m.startswith("champion"), m))
    for model in order:
        for client, group in clients[clients["model"] == model].groupby("client_id"):
            item_rows = items[(items["model"] == model) & (items["client_id"] == client)]
            row = group.iloc[0]
            lines.append(
                f"| {model} | {client} | {row['wape']:.3f} | {item_rows['mase'].mean():.3f} | "
                f"{item_rows['sql'].mean():.3f} | {row['coverage_80']:.3f} | {len(item_rows)} |"
            )
    if chronos_status != "ok":
        lines.append(f"| chronos-2 | both | not run | | | | {chronos_status} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the M5 folder (default ../shared/data/m5)")
    parser.add_argument("--home", type=Path, default=REPO / "var" / "m5", help="FORECAST_HOME for the run")
    parser.add_argument("--items", type=int, default=None, help="top items per client (default all 150)")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/accuracy.md")
    args = parser.parse_args()

    home = args.home.resolve()
    os.environ["FORECAST_HOME"] = str(home)
    os.environ.setdefault("DAGSTER_HOME", str(home / "dagster_home"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from forecast_assets.cli import run_clients
    from forecast_assets.settings import Settings

    settings = Settings.from_env()
    clients = write_landing(args.data, settings.landing_dir, args.items)
    started = time.perf_counter()
    ok = run_clients(settings, clients, as_of=AS_OF)
    seconds = time.perf_counter() - started
    if not ok:
        raise SystemExit("the pipeline failed on M5; see the Dagster run logs under DAGSTER_HOME")
    accuracy = score(settings, clients)
    chronos = (
        "ok"
        if accuracy["model"].str.startswith("chronos").any()
        else (f"weights for {settings.chronos_model_id} not loadable here")
    )
    body = table(accuracy, chronos)
    print(body)
    print(f"\n(pipeline for {len(clients)} clients: {seconds:.0f} s)")
    if args.no_write:
        return
    doc = REPO / "docs" / "accuracy.md"
    text = doc.read_text()
    stamp = (
        f"Produced by `benchmarks/m5_accuracy.py` on {dt.date.today().isoformat()}: as_of {AS_OF}, "
        f"horizon {HORIZON}, {len(clients)} clients, Chronos model `{settings.chronos_model_id}` "
        f"({chronos}); pipeline time {seconds:.0f} s on {os.cpu_count()} CPU cores."
    )
    new = f"{MARKER_START}\n{stamp}\n\n{body}\n{MARKER_END}"
    text = re.sub(re.escape(MARKER_START) + ".*?" + re.escape(MARKER_END), new, text, flags=re.S)
    doc.write_text(text)
    print(f"wrote {doc}")


if __name__ == "__main__":
    main()
