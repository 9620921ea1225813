"""A seeded generator of demo landing folders, so the whole flow runs on a fresh machine.

The demand it writes has what real retail demand has and a forecaster must cope with: weekly and
yearly seasonality, trend, price changes, promotion lift, holiday peaks, intermittent slow movers,
stock-outs (zero sales while the shelf is empty), items with short history, and a few deliberately
bad rows so that the rejects path is exercised on every demo run. Same seed, same files.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from forecast_assets.core.clients import validate_client_key
from forecast_assets.core.forecasting.calendar import holiday_table

DEMO_END_DATE = dt.date(2026, 10, 31)


@dataclass(frozen=True)
class DemoClient:
    client_id: str
    n_items: int
    sales_format: str  # "csv" (price per row) or "parquet" (revenue per row)
    base_level: float
    seed: int


DEMO_CLIENTS: tuple[DemoClient, ...] = (
    DemoClient("demo_grocer", n_items=24, sales_format="csv", base_level=30.0, seed=11),
    DemoClient("demo_hardware", n_items=16, sales_format="parquet", base_level=8.0, seed=23),
)


def _holiday_dates(start: dt.date, end: dt.date) -> set[dt.date]:
    """US holidays: the demo's peaks fall on the days the default HOLIDAY_COUNTRY=US flags."""
    return set(holiday_table("US", start, end)["date"].to_list())


def generate_client(
    client: DemoClient, end_date: dt.date = DEMO_END_DATE, history_days: int = 730, horizon: int = 28
) -> dict[str, pl.DataFrame]:
    """Frames for one client's landing files: sales, products, promotions, stock_levels, events."""
    rng = np.random.default_rng(client.seed)
    start = end_date - dt.timedelta(days=history_days - 1)
    dates = np.array([start + dt.timedelta(days=i) for i in range(history_days)])
    t = np.arange(history_days)
    weekday = np.array([d.weekday() for d in dates])
    doy = np.array([d.timetuple().tm_yday for d in dates])
    holidays = _holiday_dates(start, end_date + dt.timedelta(days=horizon))
    near_holiday = np.array([any(d + dt.timedelta(days=k) in holidays for k in range(0, 3)) for d in dates])
    # Client events (CSV clients only): a benefits-payment day on the 1st and 3rd of the month.
    has_events = client.sales_format == "csv"
    event_dates = [start + dt.timedelta(days=i) for i in range(history_days + horizon)]
    benefits = np.array([1.0 if d.day in (1, 3) else 0.0 for d in event_dates])
    lift = 1 + 0.3 * benefits[:history_days] if has_events else np.ones(history_days)

    products, sales, promos, stock = [], [], [], []
    for i in range(client.n_items):
        item_id = f"{client.client_id.split('_')[-1][:3].upper()}-{i + 1:04d}"
        slow_mover = i % 6 == 5
        short_history = i % 8 == 7
        level = client.base_level * rng.lognormal(0.0, 0.6) * (0.05 if slow_mover else 1.0)
        list_price = float(np.round(rng.uniform(2, 60), 2))
        lead_time = int(rng.choice([3, 5, 7, 10, 14]))
        products.append(
            {
                "item_id": item_id,
                "name": f"Demo item {i + 1}",
                "category": ["fresh", "pantry", "household", "tools"][i % 4],
                "unit_cost": round(list_price * 0.6, 2),
                "price": list_price,
                "lead_time_days": lead_time,
                "lead_time_std_days": round(lead_time * 0.2, 1) if i % 3 else None,
                "moq": int(rng.choice([1, 6, 12])),
                "pack_size": int(rng.choice([1, 1, 6])),
            }
        )
        # Price path: list price with one or two permanent changes.
        price = np.full(history_days, list_price)
        for change_day in rng.choice(
            np.arange(60, history_days - 30), size=rng.integers(1, 3), replace=False
        ):
            price[change_day:] *= rng.uniform(0.9, 1.12)
        # Promotions: a few past ones and one planned inside the forecast horizon.
        promo = np.zeros(history_days)
        discount = np.zeros(history_days)
        for _ in range(rng.integers(2, 5)):
            s = int(rng.integers(0, history_days - 14))
            length = int(rng.integers(5, 12))
            disc = float(np.round(rng.uniform(0.1, 0.3), 2))
            promo[s : s + length] = 1
            discount[s : s + length] = disc
            promos.append(
                {
                    "item_id": item_id,
                    "start_date": dates[s],
                    "end_date": dates[min(s + length - 1, history_days - 1)],
                    "promo_type": "discount",
                    "discount": disc,
                }
            )
        if i % 2 == 0:
            s = end_date + dt.timedelta(days=int(rng.integers(3, horizon - 10)))
            promos.append(
                {
                    "item_id": item_id,
                    "start_date": s,
                    "end_date": s + dt.timedelta(days=6),
                    "promo_type": "discount",
                    "discount": 0.2,
                }
            )
        effective_price = price * (1 - discount)
        mean = (
            level
            * (1 + 0.0004 * t * rng.uniform(-1, 1.5))
            * (1 + 0.25 * np.sin(2 * np.pi * (weekday - 1) / 7))
            * (1 + 0.2 * np.sin(2 * np.pi * doy / 365.25 + rng.uniform(0, 2 * np.pi)))
            * (effective_price / list_price) ** -1.5
            * (1 + 0.8 * near_holiday)
            * lift
        )
        units = rng.poisson(np.clip(mean, 0, None)).astype(float)
        if slow_mover:
            units *= rng.random(history_days) < 0.35  # intermittent: most days sell nothing
        on_hand = np.clip(np.round(rng.normal(level * 12, level * 3, history_days)), 1, None)
        if i % 5 == 1:  # stock-outs: the shelf is empty and nothing sells
            for _ in range(2):
                s = int(rng.integers(history_days // 2, history_days - 10))
                n = int(rng.integers(3, 9))
                units[s : s + n] = 0
                on_hand[s : s + n] = 0
        first = history_days - int(rng.integers(40, 70)) if short_history else 0
        for d in range(first, history_days):
            stock.append(
                {
                    "item_id": item_id,
                    "date": dates[d],
                    "on_hand": float(on_hand[d]),
                    "on_order": float(0 if d < history_days - 1 else round(level * lead_time)),
                }
            )
            if units[d] > 0:
                row = {"date": dates[d], "item_id": item_id, "units_sold": float(units[d])}
                if client.sales_format == "csv":
                    row["price"] = round(float(effective_price[d]), 2)
                else:
                    row["revenue"] = round(float(effective_price[d] * units[d]), 2)
                sales.append(row)
    events = pl.DataFrame({"date": event_dates, "benefits_day": benefits.astype(int)}) if has_events else None
    return {
        "events": events,
        "products": pl.DataFrame(products),
        "sales": pl.DataFrame(sales),
        "promotions": pl.DataFrame(promos),
        "stock_levels": pl.DataFrame(stock),
    }


def _with_bad_rows(sales: pl.DataFrame, end_date: dt.date) -> pl.DataFrame:
    """Append rows a real feed contains: a duplicate, a negative, an unknown item, a future date."""
    good = sales.row(0, named=True)
    bad = [
        dict(good),  # exact duplicate of the first row
        {**good, "date": good["date"] + dt.timedelta(days=1), "units_sold": -3.0},
        {**good, "item_id": "NOT-IN-CATALOGUE"},
        {**good, "date": end_date + dt.timedelta(days=400)},
    ]
    return pl.concat([sales, pl.DataFrame(bad, schema=sales.schema)])


def write_demo_landing(
    landing_dir: Path,
    clients: tuple[DemoClient, ...] = DEMO_CLIENTS,
    end_date: dt.date = DEMO_END_DATE,
    with_bad_rows: bool = True,
    history_days: int = 730,
) -> list[str]:
    """Write (or overwrite) the landing folders of the demo clients; returns their client keys."""
    written = []
    for client in clients:
        folder = Path(landing_dir) / validate_client_key(client.client_id)
        folder.mkdir(parents=True, exist_ok=True)
        frames = generate_client(client, end_date=end_date, history_days=history_days)
        sales = _with_bad_rows(frames["sales"], end_date) if with_bad_rows else frames["sales"]
        if client.sales_format == "parquet":
            sales.write_parquet(folder / "sales.parquet")
        else:
            sales.write_csv(folder / "sales.csv")
        frames["products"].write_csv(folder / "products.csv")
        frames["promotions"].write_csv(folder / "promotions.csv")
        frames["stock_levels"].write_csv(folder / "stock_levels.csv")
        if frames["events"] is not None:
            frames["events"].write_csv(folder / "events.csv")
        written.append(client.client_id)
    return written
