"""What a client's size costs: the real ``forecast_client`` job end to end at several item counts.

Run on purpose (never in the test suite), one size after another, each in a fresh process:

    .venv/bin/python benchmarks/scale.py --sizes 100 300            # a few minutes on 2 cores
    .venv/bin/python benchmarks/scale.py --sizes 1000 3000 10000 30490 --days 730
    .venv/bin/python benchmarks/scale.py --sizes 300 --refresh      # cold start, then a refresh

For each size it writes a generated client (:func:`generate`) to a fresh ``FORECAST_HOME`` under
``--home``, runs the whole job for it in a child process (DuckDB warehouse, SQLite instance and
MLflow, Chronos where its weights load, else the baselines alone), and prints per step the wall
time, the rows the step left in the warehouse tables it writes, its peak memory (RSS and PSS summed
over the process and its workers, see :class:`MemorySampler`), and per size the child's peak RSS
and the time per item as a ratio to the smallest size (1.0 means cost grows linearly). Steps run
in one process (``execute_in_process``), so peak RSS is the run's, not a step's.

The generated client has what a retailer's catalogue has, at M5 proportions: a mix of smooth,
erratic, intermittent and lumpy items (Syntetos-Boylan classes), weekly and yearly seasonality,
price changes, promotions (past ones and one planned in the horizon for some items), a monthly
benefits-day event, weekly stock snapshots and a few stock-outs. Only sold days become sales rows,
as in a real export. Same seed, same files.

``--refresh`` runs the job a second time for each size after a late delivery that restates the
last ``REFRESH_DAYS`` days' sales (a sensor-triggered refresh of the same ``as_of``). The
backtest cutoffs lie before those days, so the baselines and the global model read their
backtests back from the first run (``ml.forecast_origins``) and fit only the live origin: the
cost of a daily run once a client has live history, where each backtest cutoff is an earlier
run's live origin.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CLIENT = "scale_bench"
END_DATE = dt.date(2026, 10, 31)
# Share of items per demand class, and (mean level, daily sale probability, size dispersion):
# smooth sells most days with little spread; erratic most days with a large spread; intermittent
# seldom, in small sizes; lumpy seldom, in large and varied sizes.
CLASSES = {
    "smooth": (0.35, 20.0, 0.95, 0.0),
    "erratic": (0.15, 12.0, 0.9, 1.2),
    "intermittent": (0.35, 1.5, 0.25, 0.0),
    "lumpy": (0.15, 6.0, 0.15, 1.5),
}
# Tables a step writes, counted for the client after the run.
STEP_TABLES = {
    "raw_landing": ["raw.sales", "raw.products", "raw.promotions", "raw.stock_levels", "raw.events"],
    "dbt_modelling": ["analytics.ts_demand_daily", "analytics.covariate_calendar"],
    "chronos_forecast": ["ml.chronos_forecast"],
    "baseline_forecast": ["ml.baseline_forecast"],
    "global_forecast": ["ml.global_forecast"],
    "ensemble_forecast": ["ml.ensemble_forecast"],
    "forecast_evaluation": ["ml.forecast_evaluation", "ml.forecast_live_accuracy"],
    "inventory_metrics": ["ml.inventory_metrics"],
    "dbt_serving": ["analytics.fct_demand_forecast", "analytics.fct_forecast_accuracy"],
}


def generate(n_items: int, days: int, seed: int = 0) -> dict[str, pl.DataFrame]:
    """One client's landing frames (sales, products, promotions, stock_levels, events)."""
    rng = np.random.default_rng(seed)
    dates = np.array([END_DATE - dt.timedelta(days=days - 1 - i) for i in range(days)])
    t = np.arange(days)
    weekday = np.array([d.weekday() for d in dates])
    doy = np.array([d.timetuple().tm_yday for d in dates])
    names = list(CLASSES)
    shares = np.array([CLASSES[c][0] for c in names])
    item_class = rng.choice(len(names), size=n_items, p=shares / shares.sum())
    level = np.array([CLASSES[names[c]][1] for c in item_class]) * rng.lognormal(0, 0.7, n_items)
    p_sale = np.array([CLASSES[names[c]][2] for c in item_class])
    dispersion = np.array([CLASSES[names[c]][3] for c in item_class])
    item_ids = np.array([f"SKU-{i + 1:06d}" for i in range(n_items)])
    list_price = np.round(rng.uniform(1, 40, n_items), 2)

    # Prices: one permanent change per item at a random day; promotions: three past 7-day
    # windows per item at 20% off, and a planned one in the next 28 days for every fifth item.
    change_day = rng.integers(60, days - 30, n_items)
    price = list_price[:, None] * np.where(
        t[None, :] >= change_day[:, None], rng.uniform(0.9, 1.1, n_items)[:, None], 1
    )
    promo = np.zeros((n_items, days), dtype=bool)
    starts = rng.integers(0, days - 7, (n_items, 3))
    for k in range(3):
        promo[np.arange(n_items)[:, None], starts[:, k : k + 1] + np.arange(7)[None, :]] = True
    benefits = np.isin([d.day for d in dates], (1, 15))
    season = (1 + 0.25 * np.sin(2 * np.pi * (weekday - 1) / 7))[None, :] * (
        1 + 0.15 * np.sin(2 * np.pi * doy / 365.25 + rng.uniform(0, 2 * np.pi, n_items)[:, None])
    )
    mean = level[:, None] * season * np.where(promo, 1.6, 1.0) * np.where(benefits, 1.2, 1.0)[None, :]
    sold = rng.random((n_items, days)) < np.clip(p_sale[:, None] * np.where(promo, 1.5, 1.0), 0, 1)
    size_mean = mean / p_sale[:, None]
    # Gamma-Poisson sizes: dispersion 0 is Poisson, larger is wider.
    k = 1 / np.maximum(dispersion, 1e-3) ** 2
    noise = rng.gamma(k[:, None], 1 / k[:, None], size=(n_items, days))
    rate = size_mean * np.where(dispersion[:, None] > 0, noise, 1.0)
    units = np.where(sold, np.maximum(rng.poisson(rate), 1), 0)
    stockout = np.zeros((n_items, days), dtype=bool)
    out_items = rng.random(n_items) < 0.1
    out_start = rng.integers(days // 2, days - 14, n_items)
    stockout[
        out_items[:, None] & (t[None, :] >= out_start[:, None]) & (t[None, :] < out_start[:, None] + 5)
    ] = True
    units = np.where(stockout, 0, units)
    effective = price * np.where(promo, 0.8, 1.0)

    item_idx, day_idx = np.nonzero(units)
    sales = pl.DataFrame(
        {
            "date": dates[day_idx].tolist(),
            "item_id": item_ids[item_idx],
            "units_sold": units[item_idx, day_idx].astype(float),
            "price": np.round(effective[item_idx, day_idx], 2),
        }
    )
    lead = rng.choice([3, 7, 14], n_items)
    products = pl.DataFrame(
        {
            "item_id": item_ids,
            "name": [f"Item {i + 1}" for i in range(n_items)],
            "category": np.array(["fresh", "pantry", "household", "tools", "toys"])[np.arange(n_items) % 5],
            "unit_cost": np.round(list_price * 0.6, 2),
            "price": list_price,
            "lead_time_days": lead,
        }
    )
    promo_rows = [
        (item_ids[i], dates[starts[i, k]], dates[starts[i, k] + 6], "discount", 0.2)
        for i in range(n_items)
        for k in range(3)
    ] + [
        (item_ids[i], END_DATE + dt.timedelta(days=5), END_DATE + dt.timedelta(days=11), "discount", 0.2)
        for i in range(0, n_items, 5)
    ]
    promotions = pl.DataFrame(
        promo_rows, schema=["item_id", "start_date", "end_date", "promo_type", "discount"], orient="row"
    )
    weekly = np.arange(days - 1, -1, -7)[::-1]  # a snapshot every Sunday-ish, ending on the last day
    snap_item, snap_day = np.meshgrid(np.arange(n_items), weekly, indexing="ij")
    on_hand = np.where(stockout[snap_item, snap_day], 0.0, np.round(level[snap_item] * 10) + 1)
    stock_levels = pl.DataFrame(
        {
            "item_id": item_ids[snap_item.ravel()],
            "date": dates[snap_day.ravel()].tolist(),
            "on_hand": on_hand.ravel(),
            "on_order": np.zeros(on_hand.size),
        }
    )
    all_dates = [dates[0] + dt.timedelta(days=i) for i in range(days + 28)]
    events = pl.DataFrame({"date": all_dates, "benefits_day": [int(d.day in (1, 15)) for d in all_dates]})
    return {
        "sales": sales,
        "products": products,
        "promotions": promotions,
        "stock_levels": stock_levels,
        "events": events,
    }


def write_client(landing: Path, frames: dict[str, pl.DataFrame]) -> None:
    folder = landing / CLIENT
    folder.mkdir(parents=True, exist_ok=True)
    frames["sales"].write_parquet(folder / "sales.parquet")
    for kind in ("products", "promotions", "stock_levels", "events"):
        frames[kind].write_csv(folder / f"{kind}.csv")


REFRESH_DAYS = 3


def restate_recent_sales(landing: Path, days: int = REFRESH_DAYS) -> int:
    """A late correction: one more unit on every sale of the last ``days`` days; rows changed."""
    path = landing / CLIENT / "sales.parquet"
    sales = pl.read_parquet(path)
    recent = pl.col("date") > pl.lit(END_DATE - dt.timedelta(days=days))
    bumped = pl.when(recent).then(pl.col("units_sold") + 1).otherwise("units_sold")
    sales.with_columns(bumped).write_parquet(path)
    return sales.filter(recent).height


def run_child(home: Path, n: int) -> dict:
    """One run of the job for the client in ``home`` in a fresh process; its figures."""
    child = subprocess.run(
        [sys.executable, __file__, "--child", str(home)], capture_output=True, text=True, check=False
    )
    line = next((s for s in child.stdout.splitlines() if s.startswith("RESULT ")), None)
    if line is None:
        sys.exit(f"the run for {n} items failed:\n{child.stdout[-3000:]}\n{child.stderr[-3000:]}")
    return json.loads(line.removeprefix("RESULT "))


class MemorySampler:
    """Memory of this process and its children (the baselines' worker processes), sampled every
    ``interval`` seconds on a thread, so each step's peak can be read from its start and end.

    Two sums per sample: RSS, and PSS (proportional set size: a page shared by n processes counts
    1/n in each). The baselines' workers are forked, so each one's RSS counts the pages it shares
    with this process again; PSS counts them once, which is what the machine (or a container's
    memory limit) actually holds. PSS reads ``/proc/<pid>/smaps_rollup`` (Linux).
    """

    def __init__(self, interval: float = 0.2) -> None:
        import threading

        import psutil

        self.interval, self.samples = interval, []
        self._process, self._stop = psutil.Process(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            rss = pss = 0
            for process in [self._process, *self._process.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    full = process.memory_full_info()
                    rss, pss = rss + full.rss, pss + full.pss
            self.samples.append((time.time(), rss, pss))
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak_mb(self, start: float, end: float, which: str = "rss") -> float:
        """The highest sample of ``which`` (``rss`` or ``pss``) between ``start`` and ``end``
        (unix seconds), in MB."""
        column = {"rss": 1, "pss": 2}[which]
        inside = [sample[column] for sample in self.samples if start <= sample[0] <= end]
        return max(inside, default=0) / 2**20


def run_one(home: Path) -> dict:
    """The child: run the job for the client in ``home``; per-step seconds, rows, peak RSS
    (children included)."""
    os.environ["FORECAST_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import duckdb

    from forecast_assets.cli import _instance, run_clients
    from forecast_assets.settings import Settings

    settings = Settings.from_env()
    started = time.perf_counter()
    with MemorySampler() as memory:
        ok = run_clients(settings, [CLIENT])
    total = time.perf_counter() - started
    instance = _instance(settings)
    run = instance.get_runs(limit=1)[0]
    stats = instance.get_run_step_stats(run.run_id)
    steps = {s.step_key: (s.end_time or 0) - (s.start_time or 0) for s in stats}
    step_mb = {s.step_key: memory.peak_mb(s.start_time or 0, s.end_time or 0) for s in stats}
    step_pss_mb = {s.step_key: memory.peak_mb(s.start_time or 0, s.end_time or 0, "pss") for s in stats}
    rows: dict[str, int] = {}
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        for step, tables in STEP_TABLES.items():
            count = 0
            for table in tables:
                schema, name = table.split(".")
                query = (
                    "select count(*) from information_schema.tables where table_schema = ? and table_name = ?"
                )
                exists = con.execute(query, [schema, name]).fetchone()[0]
                if exists:
                    count += con.execute(
                        f"select count(*) from {table} where client_id = ?", [CLIENT]
                    ).fetchone()[0]
            rows[step] = count
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_mb = max(peak_mb, memory.peak_mb(0, float("inf")))
    return {
        "ok": ok,
        "total_s": total,
        "steps": steps,
        "step_mb": step_mb,
        "step_pss_mb": step_pss_mb,
        "rows": rows,
        "peak_rss_mb": peak_mb,
        "peak_pss_mb": memory.peak_mb(0, float("inf"), "pss"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300], help="item counts (ascending)")
    parser.add_argument("--days", type=int, default=730, help="days of history (default 730)")
    parser.add_argument("--home", type=Path, default=REPO / "var" / "scale", help="working folder")
    parser.add_argument(
        "--refresh", action="store_true", help="then restate the last days' sales and run again (a refresh)"
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(run_one(args.child)), flush=True)
        return

    results = {}
    for n in sorted(args.sizes):
        home = (args.home / f"items_{n}").resolve()
        if home.exists():
            subprocess.run(["rm", "-rf", str(home)], check=True)
        started = time.perf_counter()
        frames = generate(n, args.days)
        write_client(home / "landing", frames)
        seconds = time.perf_counter() - started
        print(f"== {n} items: {frames['sales'].height:,} sales rows generated in {seconds:.0f} s", flush=True)
        results[n] = run_child(home, n)
        print(
            f"   done: {results[n]['total_s']:.0f} s, peak RSS {results[n]['peak_rss_mb']:.0f} MB", flush=True
        )
        if args.refresh:
            changed = restate_recent_sales(home / "landing")
            refresh = run_child(home, n)
            results[n]["refresh"] = refresh
            print(
                f"   refresh after {changed:,} restated sales rows: {refresh['total_s']:.0f} s "
                f"({refresh['total_s'] / results[n]['total_s']:.2f} of the cold run), "
                f"peak RSS {refresh['peak_rss_mb']:.0f} MB",
                flush=True,
            )

    base = min(results)

    def row(label: str, values: list[str]) -> str:
        return f"| {label} | {' | '.join(values)} |"

    print("\n" + row("step", [f"{n} items: s (rows; peak RSS / PSS)" for n in results]))
    print(row("---", ["---"] * len(results)))
    for step in STEP_TABLES:
        print(
            row(
                step,
                [
                    f"{r['steps'].get(step, 0):.1f} ({r['rows'].get(step, 0):,}; "
                    f"{r['step_mb'].get(step, 0):,.0f} / {r['step_pss_mb'].get(step, 0):,.0f} MB)"
                    for r in results.values()
                ],
            )
        )
    print(row("whole job s", [f"{r['total_s']:.0f}" for r in results.values()]))
    if args.refresh:
        refreshes = [r["refresh"] for r in results.values()]
        for step in STEP_TABLES:
            print(
                row(
                    f"refresh: {step}",
                    [
                        f"{r['steps'].get(step, 0):.1f} "
                        f"({r['step_mb'].get(step, 0):,.0f} / {r['step_pss_mb'].get(step, 0):,.0f} MB)"
                        for r in refreshes
                    ],
                )
            )
        print(row("refresh: whole job s", [f"{r['total_s']:.0f}" for r in refreshes]))
        ratios = [f"{r['refresh']['total_s'] / r['total_s']:.2f}" for r in results.values()]
        print(row("refresh / cold", ratios))
    print(row("peak RSS MB", [f"{r['peak_rss_mb']:.0f}" for r in results.values()]))
    print(row("peak PSS MB", [f"{r['peak_pss_mb']:.0f}" for r in results.values()]))
    if args.refresh:
        print(
            row(
                "refresh: peak RSS / PSS MB",
                [
                    f"{r['refresh']['peak_rss_mb']:.0f} / {r['refresh']['peak_pss_mb']:.0f}"
                    for r in results.values()
                ],
            )
        )
    per_item = {n: r["total_s"] / n for n, r in results.items()}
    print(row("s per item", [f"{v:.2f}" for v in per_item.values()]))
    print(row(f"per item vs {base} items", [f"{v / per_item[base]:.2f}" for v in per_item.values()]))
    if not all(r["ok"] for r in results.values()):
        sys.exit("a run failed: see the Dagster run logs under the working folder")


if __name__ == "__main__":
    main()
