"""Throughput and memory of the Chronos forecast asset against a bare ``predict_df`` call.

Run on purpose (never in the test suite):

    .venv/bin/python benchmarks/forecast_throughput.py                # defaults below
    .venv/bin/python benchmarks/forecast_throughput.py --items 200 --models tiny --dtypes float32

For each model (``tiny``: the random-weight test model; ``base``: random weights with the
published amazon/chronos-2 dimensions, so the compute cost is real) and dtype, it generates
``--items`` daily series with covariates (price and stock-outs past-only; promotions, holidays,
weekends and planned price known in the future), writes them to a DuckDB warehouse in the
shape dbt gives them, and times in separate processes:

- ``asset``: ``dagster.materialize`` of the ``chronos_forecast`` asset (forecast plus one
  backtest origin, read from the warehouse, checked, streamed, spooled, published, MLflow run);
- ``bare``: ``pipeline.predict_df`` on the same frames (the ones the asset builds) and model,
  one call per origin over every item, with predict_df's defaults.

Both count the same work: items x origins series. The model is loaded before the clock starts
in both. It prints series per second, the ratio asset/bare (1.0 = no overhead), peak RSS per
process, and with ``--rss-items`` the asset's peak RSS at several client sizes (flat when the
streaming works). With ``--baselines N`` it also times the statsforecast baselines on N items, on one
process and on every core.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import polars as pl

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

CLIENT = "bench"
HORIZON_DEFAULT = 28


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(n_items: int, days: int, horizon: int, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """ts_demand_daily and covariate_calendar rows for ``n_items`` items (vectorised, seeded): the
    GPU benchmark's client (``chronos_device.generate``), with dates as the warehouse stores them."""
    from chronos_device import generate as generate_frames

    demand, calendar = generate_frames(n_items, days, horizon, seed)
    return tuple(pl.from_pandas(f).with_columns(pl.col("date").cast(pl.Date)) for f in (demand, calendar))


def settings_for(home: Path, model_dir: Path, args: argparse.Namespace):
    from forecast_assets.settings import Settings

    return Settings(
        home=home,
        landing_dir=home / "landing",
        warehouse_url=f"duckdb:///{home / 'warehouse.duckdb'}",
        mlflow_tracking_uri=f"sqlite:///{home / 'mlflow.db'}",
        chronos_model_id=str(model_dir),
        chronos_device="cpu" if args.device == "cpu" else args.device,
        chronos_dtype=args.dtype,
        chronos_batch_size=args.batch_size,
        chronos_context_length=args.context,
        chronos_chunk_items=args.chunk_items,
        chronos_required=True,
        horizon=args.horizon,
        backtest_windows=1,
    )


def prepare(home: Path, n_items: int, args: argparse.Namespace) -> None:
    """Write the generated client into the warehouse, as dbt would have."""
    from forecast_assets.resources.warehouse import TableWrite, Warehouse

    demand, calendar = generate(n_items, args.context + args.horizon + 8, args.horizon)
    Warehouse(url=f"duckdb:///{home / 'warehouse.duckdb'}").replace_client_rows(
        CLIENT,
        [
            TableWrite("analytics.ts_demand_daily", demand),
            TableWrite("analytics.covariate_calendar", calendar),
        ],
    )


def worker(args: argparse.Namespace) -> dict[str, float]:
    """One measurement in this process; prints a JSON line."""
    from forecast_assets.resources.build import from_settings
    from forecast_assets.resources.chronos import ChronosModel

    home = Path(args.home)
    settings = settings_for(home, Path(args.model_dir), args)
    chronos = from_settings(ChronosModel, settings, prefix="chronos_")
    started = time.perf_counter()
    pipeline = chronos.pipeline()  # loaded once per process, as the resource does
    load_seconds = time.perf_counter() - started
    rss_before = peak_rss_mb()
    if args.mode == "asset":
        seconds, series = _time_asset(settings)
    elif args.mode == "bare":
        seconds, series = _time_bare(settings, pipeline)
    else:
        seconds, series = _time_baselines(settings, args.n_jobs)
    return {
        "seconds": seconds,
        "series": series,
        "load_seconds": load_seconds,
        "rss_after_load_mb": rss_before,
        "peak_rss_mb": peak_rss_mb(),
    }


def _origins(settings):
    from forecast_assets.defs.inputs import last_date
    from forecast_assets.resources.warehouse import Warehouse

    as_of = last_date(Warehouse(url=settings.warehouse_url), CLIENT)
    return as_of, [as_of, as_of - pd.Timedelta(days=settings.horizon)]


def _time_asset(settings) -> tuple[float, int]:
    from dagster import DagsterInstance, materialize

    from forecast_assets.defs.forecasting import chronos_forecast
    from forecast_assets.defs.partitions import clients_partitions
    from forecast_assets.resources.build import build_resources

    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(clients_partitions.name, [CLIENT])
    resources = build_resources(settings)
    started = time.perf_counter()
    result = materialize([chronos_forecast], partition_key=CLIENT, resources=resources, instance=instance)
    seconds = time.perf_counter() - started
    assert result.success
    meta = result.asset_materializations_for_node("chronos_forecast")[0].metadata
    items = meta["items"].value - meta["items_excluded"].value
    return seconds, items * 2


def _time_bare(settings, pipeline) -> tuple[float, int]:
    from forecast_assets.core.forecasting.chronos_frames import build_frames
    from forecast_assets.defs.inputs import load_calendar, load_demand
    from forecast_assets.resources.warehouse import Warehouse

    warehouse = Warehouse(url=settings.warehouse_url)
    as_of, cutoffs = _origins(settings)
    demand = load_demand(warehouse, CLIENT, until=as_of)
    calendar = load_calendar(warehouse, CLIENT, until=as_of + pd.Timedelta(days=settings.horizon))
    frames = [
        build_frames(
            demand,
            calendar,
            cutoff,
            settings.horizon,
            client_id=CLIENT,
            context_length=settings.chronos_context_length,
            min_history=settings.min_history_days,
        )
        for cutoff in cutoffs
    ]
    from chronos_device import run_bare

    started = time.perf_counter()
    series, _ = run_bare(pipeline, frames, settings.horizon, settings.quantiles,
                         settings.chronos_batch_size, settings.chronos_context_length)  # fmt: skip
    return time.perf_counter() - started, series


def _time_baselines(settings, n_jobs: int) -> tuple[float, int]:
    from forecast_assets.core.forecasting.baselines import forecast_baselines
    from forecast_assets.defs.inputs import load_demand
    from forecast_assets.resources.warehouse import Warehouse

    as_of, _ = _origins(settings)
    demand = load_demand(Warehouse(url=settings.warehouse_url), CLIENT, until=as_of)
    started = time.perf_counter()
    result = forecast_baselines(demand, as_of, settings.horizon, settings.quantiles, n_jobs=n_jobs)
    return time.perf_counter() - started, int(result.forecasts["item_id"].nunique())


def measure(mode: str, home: Path, model_dir: Path, args: argparse.Namespace, **extra) -> dict[str, float]:
    """The fastest of ``--repeat`` runs, each in a fresh process (so peak RSS is its own)."""
    runs = [_measure_once(mode, home, model_dir, args, **extra) for _ in range(args.repeat)]
    return min(runs, key=lambda r: r["seconds"])


def _measure_once(
    mode: str, home: Path, model_dir: Path, args: argparse.Namespace, **extra
) -> dict[str, float]:
    """Run one measurement in a fresh process."""
    command = [
        sys.executable,
        __file__,
        "--worker",
        mode,
        "--home",
        str(home),
        "--model-dir",
        str(model_dir),
        "--dtype",
        extra.get("dtype", args.dtype),
        "--device",
        args.device,
        "--context",
        str(args.context),
        "--horizon",
        str(args.horizon),
        "--batch-size",
        str(args.batch_size),
        "--chunk-items",
        str(args.chunk_items),
        "--n-jobs",
        str(extra.get("n_jobs", 1)),
    ]
    out = subprocess.run(
        command, capture_output=True, text=True, env=os.environ | {"PYTHONWARNINGS": "ignore"}
    )
    if out.returncode != 0:
        raise SystemExit(f"{mode} measurement failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def model_dir_for(size: str, root: Path) -> Path:
    from forecast_assets.demo.tiny_chronos import CHRONOS2_BASE, save_tiny_chronos2

    target = root / f"chronos-2-{size}"
    if not target.exists():
        save_tiny_chronos2(target, dims=CHRONOS2_BASE if size == "base" else None)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1000, help="items for the tiny model (default 1000)")
    parser.add_argument("--base-items", type=int, default=100, help="items for the base-size model")
    parser.add_argument("--models", default="tiny,base", help="comma list of tiny, base")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--context", type=int, default=512)
    parser.add_argument("--horizon", type=int, default=HORIZON_DEFAULT)
    parser.add_argument("--batch-size", type=int, default=256, help="predict_df batch size (rows)")
    parser.add_argument("--chunk-items", type=int, default=1024, help="CHRONOS_CHUNK_ITEMS for the asset")
    parser.add_argument("--rss-items", default="", help="e.g. 250,500,1000: asset peak RSS per client size")
    parser.add_argument("--baselines", type=int, default=0, help="also time the baselines on N items")
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement; the fastest counts")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--dtype", default="float32", help=argparse.SUPPRESS)
    parser.add_argument("--n-jobs", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.mode = args.worker
        print(json.dumps(worker(args)))
        return

    import torch

    print(
        f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, device {args.device}"
        + (f" ({torch.cuda.get_device_name(0)})" if args.device == "cuda" else "")
    )
    print(f"# context {args.context}, horizon {args.horizon}, batch {args.batch_size}, origins 2\n")
    print(
        "| model | dtype | items | asset series/s | bare series/s | ratio asset/bare "
        "| asset peak RSS MB | bare peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for size in args.models.split(","):
            n_items = args.items if size == "tiny" else args.base_items
            home = root / f"{size}-{n_items}"
            home.mkdir()
            prepare(home, n_items, args)
            model_dir = model_dir_for(size, root)
            for dtype in args.dtypes.split(","):
                asset = measure("asset", home, model_dir, args, dtype=dtype)
                bare = measure("bare", home, model_dir, args, dtype=dtype)
                a, b = asset["series"] / asset["seconds"], bare["series"] / bare["seconds"]
                print(
                    f"| {size} | {dtype} | {n_items} | {a:.1f} | {b:.1f} | {a / b:.2f} | "
                    f"{asset['peak_rss_mb']:.0f} | {bare['peak_rss_mb']:.0f} |",
                    flush=True,
                )
        if args.rss_items:
            print("\n| items | asset peak RSS MB | RSS after model load MB | growth MB |\n|---|---|---|---|")
            model_dir = model_dir_for("tiny", root)
            for n in [int(x) for x in args.rss_items.split(",")]:
                home = root / f"rss-{n}"
                home.mkdir()
                prepare(home, n, args)
                m = measure("asset", home, model_dir, args, dtype="float32")
                print(
                    f"| {n} | {m['peak_rss_mb']:.0f} | {m['rss_after_load_mb']:.0f} | "
                    f"{m['peak_rss_mb'] - m['rss_after_load_mb']:.0f} |",
                    flush=True,
                )
        if args.baselines:
            home = root / f"baselines-{args.baselines}"
            home.mkdir()
            prepare(home, args.baselines, args)
            print("\n| baselines | items | n_jobs | series/s | ratio to n_jobs=1 |\n|---|---|---|---|---|")
            single = None
            for n_jobs in (1, os.cpu_count() or 1):
                m = measure("baselines", home, model_dir_for("tiny", root), args, n_jobs=n_jobs)
                rate = m["series"] / m["seconds"]
                single = single or rate
                print(
                    f"| statsforecast | {m['series']} | {n_jobs} | {rate:.1f} | {rate / single:.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
