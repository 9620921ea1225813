r"""Chronos-2 inference throughput on one device: a bare ``predict_df`` against the asset's core.

Why: ``forecast_throughput.py`` times the whole ``chronos_forecast`` asset (Dagster, DuckDB,
MLflow), which a GPU machine without those packages cannot run. This script needs only numpy,
pandas, torch, chronos-forecasting and the pure ``forecast_assets`` modules on the model's path,
so it measures, on the device it is given, what the GPU changes: model throughput, and whether
the project's own inference core keeps up with a bare ``predict_df``.

For each model size (``tiny``: the random-weight test model; ``base``: random weights with the
published amazon/chronos-2 dimensions, so the compute is real), dtype and batch size, after one
warm-up call each, it times on the same generated items (the distributions of
``forecast_throughput.generate``, built here with pandas only) and the same loaded model:

- ``bare``: ``pipeline.predict_df`` once per origin (``as_of`` and ``as_of - horizon``) over
  every item, on frames from :func:`chronos_frames.build_frames`;
- ``core``: the asset's own stream, :func:`chronos_stream.stream_forecasts`, over the same
  items held in memory: per slice of ``--chunk-items`` items it builds the slice's frames, makes
  one ``predict_df`` call for all its origins, finalizes (clipping, sorted quantiles), checks and
  spools the rows to Parquet. Only the warehouse read, the publish and the MLflow run of the asset
  are left out (``forecast_throughput.py`` times those on this machine). ``bare``'s frames are
  built before its clock starts, so frame building counts against ``core``.

Both count items x origins series. ``--repeat`` runs each mode that many times, alternating
which goes first, and keeps the fastest. If ``$OUT`` is set, the table and the raw numbers go to
``$OUT/chronos_device.md`` and ``$OUT/chronos_device.json`` (rewritten after every row).

On the GPU machine, from the repository root, with ``.whl/`` holding the wheels it lacks
(chronos-forecasting 2.3.2, polars 2.1.0 and polars-runtime-32 2.1.0 for CPython 3.12 x86_64:
``pip download --no-deps --only-binary=:all: --python-version 3.12 --platform
manylinux2014_x86_64 -d .whl ...``) and Python 3.12 with torch, transformers, accelerate, einops,
numpy and pandas (rows are written as they finish, base first; not yet run on a GPU: no
machine was lent when it was written, so its running time there is an estimate, 3 to 5 minutes):

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit
    PYTHONUNBUFFERED=1 python3 benchmarks/chronos_device.py --device cuda --sizes base,tiny \
        --dtypes float32,bfloat16 --items 2000 --batch-sizes 256,1024 --repeat 2

Batch sizes count rows (an item is 9: its target and 8 covariates); the table says whether a
larger batch pays on the device. Locally (CPU, tiny model, seconds):

    .venv/bin/python benchmarks/chronos_device.py --device cpu --sizes tiny --items 50 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bars in the log

CLIENT = "bench"
# The asset's defaults (forecast_assets/settings.py): not imported, since settings.py imports
# the baselines and the global model, whose packages the GPU machine does not have.
HORIZON = 28  # FORECAST_HORIZON
CONTEXT = 512  # CHRONOS_CONTEXT_LENGTH
BATCH = 256  # CHRONOS_BATCH_SIZE
CHUNK_ITEMS = 1024  # CHRONOS_CHUNK_ITEMS
MIN_HISTORY = 14  # MIN_HISTORY_DAYS
MODES = ("bare", "core")


def generate(n_items: int, days: int, horizon: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Demand and calendar rows as ``forecast_throughput.generate`` makes them (same random draws,
    in the same order), as pandas frames shaped like ``load_demand``/``load_calendar`` return."""
    rng = np.random.default_rng(seed)
    end = pd.Timestamp("2026-10-31")
    dates = pd.date_range(end=end, periods=days, freq="D")
    cal_dates = pd.date_range(dates[0], end + pd.Timedelta(days=horizon), freq="D")
    n_cal = len(cal_dates)
    items = np.array([f"SKU-{i:05d}" for i in range(n_items)], dtype=object)
    level = rng.lognormal(2.0, 0.8, n_items)[:, None]
    weekly = 1 + 0.3 * np.sin(2 * np.pi * cal_dates.dayofweek.to_numpy() / 7)[None, :]
    promo = (rng.random((n_items, n_cal)) < 0.05).astype(float)
    discount = promo * 0.2
    list_price = rng.uniform(2, 50, n_items)[:, None]
    planned = list_price * (1 - discount)
    mean = level * weekly * (1 + 1.5 * discount)
    units = rng.poisson(mean[:, :days]).astype(float)
    stockout = (rng.random((n_items, days)) < 0.01).astype(int)
    is_weekend = np.tile((cal_dates.dayofweek >= 5).astype(int), (n_items, 1))
    holiday = np.zeros((n_items, n_cal), dtype=int)
    holiday[:, cal_dates.dayofyear.isin([1, 185, 359])] = 1
    demand = pd.DataFrame(
        {
            "item_id": np.repeat(items, days),
            "date": np.tile(dates.values, n_items),
            "units_sold": units.ravel(),
            "price": planned[:, :days].ravel(),
            "promo_flag": promo[:, :days].astype(int).ravel(),
            "promo_discount": discount[:, :days].ravel(),
            "is_stockout": stockout.ravel(),
        }
    )
    calendar = pd.DataFrame(
        {
            "item_id": np.repeat(items, n_cal),
            "date": np.tile(cal_dates.values, n_items),
            "iso_weekday": np.tile(cal_dates.dayofweek.to_numpy() + 1, n_items),
            "is_weekend": is_weekend.ravel(),
            "month": np.tile(cal_dates.month.to_numpy(), n_items),
            "is_holiday": holiday.ravel(),
            "holiday_name": None,
            "days_to_holiday": np.tile((30 - cal_dates.dayofyear.to_numpy() % 30), n_items),
            "promo_flag": promo.astype(int).ravel(),
            "promo_discount": discount.ravel(),
            "planned_price": planned.ravel(),
            "is_future": np.tile((cal_dates > end).astype(int), n_items),
        }
    )
    return demand, calendar


@dataclass
class Inputs:
    """The generated client as the bare call and the asset's slices see it."""

    demand: pd.DataFrame
    calendar: pd.DataFrame
    items: list[str]
    origins: list[tuple[str, pd.Timestamp]]
    whole: list[Any]  # one ChronosFrames per origin, every item (bare's, built before its clock)
    frames_seconds: float  # building ``whole``
    rows_per_item: int
    series: int  # items x origins, less any item build_frames excluded


def prepare(n_items: int, args: argparse.Namespace) -> Inputs:
    from forecast_assets.core.forecasting.chronos_frames import build_frames, frame_rows

    demand, calendar = generate(n_items, args.context + args.horizon + 8, args.horizon)
    as_of = pd.Timestamp(demand["date"].max())
    origins = [("forecast", as_of), ("backtest", as_of - pd.Timedelta(days=args.horizon))]

    def frames(d: pd.DataFrame, c: pd.DataFrame, cutoff: pd.Timestamp) -> Any:
        return build_frames(
            d,
            c,
            cutoff,
            args.horizon,
            client_id=CLIENT,
            context_length=args.context,
            min_history=MIN_HISTORY,
        )

    items = sorted(demand["item_id"].unique())  # client_items: distinct, ordered by item_id
    started = time.perf_counter()
    whole = [frames(demand, calendar, cutoff) for _, cutoff in origins]
    frames_seconds = time.perf_counter() - started
    series = sum(f.context["item_id"].nunique() for f in whole)
    return Inputs(demand, calendar, items, origins, whole, frames_seconds, frame_rows(whole[0]), series)


def subset(frames: Any, items: list[str]) -> Any:
    """``frames`` restricted to ``items`` (for the warm-up calls)."""
    from forecast_assets.core.forecasting.chronos_frames import ChronosFrames

    return ChronosFrames(
        context=frames.context[frames.context["item_id"].isin(items)].reset_index(drop=True),
        future=frames.future[frames.future["item_id"].isin(items)].reset_index(drop=True),
        future_covariates=frames.future_covariates,
    )


def run_bare(
    pipeline: Any, whole: list[Any], horizon: int, quantiles: Any, batch: int, context: int
) -> tuple[int, Any]:
    """``predict_df`` once per origin over every item, with predict_df's defaults otherwise; the
    series count and the as_of forecast (``forecast_throughput.py``'s bare call too)."""
    series, first = 0, None
    for frames in whole:
        raw = pipeline.predict_df(
            frames.context,
            future_df=frames.future,
            id_column="item_id",
            timestamp_column="date",
            target="target",
            prediction_length=horizon,
            quantile_levels=list(quantiles),
            batch_size=batch,
            context_length=context,
        )
        first = raw if first is None else first
        series += frames.context["item_id"].nunique()
    return series, first


def run_core(
    pipeline: Any, inputs: Inputs, items: list[str], args: argparse.Namespace, batch: int, spool: Path
) -> Any:
    """``stream_forecasts`` of ``items`` (read from memory, spooled under ``spool``): its result."""
    from forecast_assets.core.forecasting.chronos_stream import StreamSpec, stream_forecasts

    spec = StreamSpec(
        client_id=CLIENT,
        as_of=inputs.origins[0][1],
        horizon=args.horizon,
        quantiles=tuple(args.quantiles),
        model_id="chronos-2-bench",
        items=items,
        origins=inputs.origins,
        chunk_items=args.chunk_items,
        batch_size=batch,
        context_length=args.context,
        min_history=MIN_HISTORY,
    )

    def read_chunk(chunk: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        return (
            inputs.demand[inputs.demand["item_id"].isin(chunk)],
            inputs.calendar[inputs.calendar["item_id"].isin(chunk)],
        )

    spool.mkdir(parents=True, exist_ok=True)
    result = stream_forecasts(pipeline, spec, read_chunk, spool)
    if result.problems:
        print(f"# core forecast problems: {'; '.join(result.problems[:5])}", flush=True)
    return result


def live_rows(result: Any) -> pd.DataFrame:
    """The spooled rows forecast from as_of (after the clock, for the q50 check)."""
    import polars as pl

    rows = pl.concat([pl.read_parquet(f) for f in result.files]).filter(pl.col("kind") == "forecast")
    return rows.to_pandas()


def q50_gap(bare: Any, core: Any, quantiles: tuple[float, ...]) -> float:
    """Largest |q50 difference| between the two forecasts from as_of, after giving bare's quantiles
    the repair ``finalize_forecast`` gives core's (clipped at 0, sorted per row): random weights
    cross quantiles, so raw and repaired medians differ by design, not by a fault."""
    levels = [str(q) for q in quantiles]
    repaired = np.sort(np.clip(bare[levels].to_numpy(dtype=float), 0.0, None), axis=1)
    b = pd.DataFrame(
        {
            "item_id": bare["item_id"].to_numpy(),
            "date": pd.to_datetime(bare["date"]).to_numpy(),
            "bare_q50": repaired[:, levels.index("0.5")],
        }
    )
    joined = b.merge(core[["item_id", "date", "q50"]], on=["item_id", "date"], how="inner")
    if len(joined) != len(core) or len(joined) != len(b):
        return math.inf
    return float(np.abs(joined["bare_q50"].to_numpy() - joined["q50"].to_numpy()).max())


@dataclass
class Row:
    size: str
    dtype: str
    batch_size: int
    items: int
    origins: int
    series: int
    load_seconds: float
    frames_seconds: float
    seconds: dict[str, list[float]] = field(default_factory=dict)
    peak_gpu_mib: dict[str, float] = field(default_factory=dict)
    q50_max_abs_diff: float = math.nan
    error: str | None = None  # out of GPU memory: the row is reported and the run goes on
    wall_seconds: float = 0.0  # the row's warm-ups and timed runs together

    def rate(self, mode: str) -> float:
        return self.series / min(self.seconds[mode])


HEADER = (
    "| size | dtype | batch | items x origins | bare series/s | core series/s | core/bare "
    "| model load s | peak GPU MiB bare / core | frames s | max abs q50 diff |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)


def table_line(row: Row) -> str:
    if row.error:
        head = f"| {row.size} | {row.dtype} | {row.batch_size} | {row.items} x {row.origins} "
        return head + f"| {row.error} | | | {row.load_seconds:.2f} | | {row.frames_seconds:.2f} | |"
    bare, core = row.rate("bare"), row.rate("core")
    peak = " / ".join(f"{row.peak_gpu_mib[m]:.0f}" for m in MODES) if row.peak_gpu_mib else "n/a"
    return (
        f"| {row.size} | {row.dtype} | {row.batch_size} | {row.items} x {row.origins} | {bare:.1f} "
        f"| {core:.1f} | {core / bare:.2f} | {row.load_seconds:.2f} | {peak} "
        f"| {row.frames_seconds:.2f} | {row.q50_max_abs_diff:.3g} |"
    )


def measure(
    pipeline: Any, inputs: Inputs, args: argparse.Namespace, batch: int, row: Row, cuda: bool, spool: Path
) -> None:
    """Warm up each mode once, then ``args.repeat`` timed runs of each, alternating the order."""
    import torch

    warm = inputs.items[: max(32, math.ceil(batch / inputs.rows_per_item))]
    model = (args.horizon, args.quantiles, batch, args.context)
    run_bare(pipeline, [subset(f, warm) for f in inputs.whole], *model)
    run_core(pipeline, inputs, warm, args, batch, spool / "warm")
    outputs: dict[str, Any] = {}
    for r in range(args.repeat):
        for mode in MODES if r % 2 == 0 else MODES[::-1]:
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            started = time.perf_counter()
            if mode == "bare":
                series, outputs[mode] = run_bare(pipeline, inputs.whole, *model)
            else:
                outputs[mode] = run_core(pipeline, inputs, inputs.items, args, batch, spool / f"run-{r}")
                series = outputs[mode].series
            if cuda:
                torch.cuda.synchronize()
            row.seconds.setdefault(mode, []).append(time.perf_counter() - started)
            if series != row.series:
                raise SystemExit(f"{mode} forecast {series} series, expected {row.series}")
            if cuda:
                peak = torch.cuda.max_memory_allocated() / 2**20
                row.peak_gpu_mib[mode] = max(row.peak_gpu_mib.get(mode, 0.0), peak)
    row.q50_max_abs_diff = q50_gap(outputs["bare"], live_rows(outputs["core"]), args.quantiles)


def write_out(lines: list[str], report: dict[str, Any]) -> None:
    out = os.environ.get("OUT")
    if not out:
        return
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "chronos_device.md").write_text("\n".join(lines) + "\n")
    (Path(out) / "chronos_device.json").write_text(json.dumps(report, indent=2, default=str) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--sizes", default="tiny,base", help="comma list of tiny, base")
    parser.add_argument("--dtypes", default="float32,bfloat16", help="comma list of float32, bfloat16")
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument(
        "--batch-sizes",
        "--batch-size",
        default=str(BATCH),
        help="predict_df batch sizes (rows), e.g. 256,1024",
    )
    parser.add_argument(
        "--chunk-items", type=int, default=CHUNK_ITEMS, help="the asset's CHRONOS_CHUNK_ITEMS"
    )
    parser.add_argument("--context", type=int, default=CONTEXT)
    parser.add_argument("--horizon", type=int, default=HORIZON)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per mode; the fastest counts")
    args = parser.parse_args()

    import chronos
    import torch
    import transformers

    from forecast_assets.core.forecasting.chronos_model import load_pipeline
    from forecast_assets.core.forecasting.frame import DEFAULT_QUANTILES
    from forecast_assets.demo.tiny_chronos import CHRONOS2_BASE, save_tiny_chronos2

    args.quantiles = DEFAULT_QUANTILES
    cuda = args.device == "cuda"
    device_name = torch.cuda.get_device_name(0) if cuda else (platform.processor() or platform.machine())
    meta = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "transformers": transformers.__version__,
        "chronos": getattr(chronos, "__version__", "?"),
        "device": args.device,
        "device_name": device_name,
        "cpu_count": os.cpu_count(),
        "args": {k: v for k, v in vars(args).items() if k != "quantiles"},
        "quantiles": list(args.quantiles),
    }
    lines = [
        f"# torch {torch.__version__} (CUDA {torch.version.cuda}), transformers {transformers.__version__}, "
        f"chronos {meta['chronos']}, Python {meta['python']}",
        f"# device {args.device}: {device_name}; {os.cpu_count()} CPU cores",
        f"# context {args.context}, horizon {args.horizon}, chunk {args.chunk_items} items, 2 origins, "
        f"best of {args.repeat}",
    ]
    print("\n".join(lines), flush=True)
    rows: list[Row] = []
    started = time.perf_counter()
    inputs = prepare(args.items, args)
    lines += [f"# inputs built in {time.perf_counter() - started:.1f}s", "", HEADER]
    print("\n".join(lines[-3:]), flush=True)
    with tempfile.TemporaryDirectory(prefix="chronos-device-") as tmp:
        for size in args.sizes.split(","):
            if size not in {"tiny", "base"}:
                raise SystemExit(f"unknown size {size!r}: tiny or base")
            saving = time.perf_counter()
            model_dir = save_tiny_chronos2(Path(tmp) / size, dims=CHRONOS2_BASE if size == "base" else None)
            meta.setdefault("save_seconds", {})[size] = time.perf_counter() - saving
            for dtype in args.dtypes.split(","):
                loading = time.perf_counter()
                pipeline = load_pipeline(str(model_dir), device=args.device, dtype=dtype)
                load_seconds = time.perf_counter() - loading
                for batch in [int(b) for b in args.batch_sizes.split(",")]:
                    row = Row(
                        size=size,
                        dtype=dtype,
                        batch_size=batch,
                        items=len(inputs.items),
                        origins=len(inputs.origins),
                        series=inputs.series,
                        load_seconds=load_seconds,
                        frames_seconds=inputs.frames_seconds,
                    )
                    measuring = time.perf_counter()
                    try:
                        measure(pipeline, inputs, args, batch, row, cuda, Path(tmp) / f"spool-{len(rows)}")
                    except torch.OutOfMemoryError as exc:
                        row.error = f"out of memory: {str(exc).splitlines()[0][:120]}"
                        torch.cuda.empty_cache()
                    row.wall_seconds = time.perf_counter() - measuring
                    rows.append(row)
                    lines.append(table_line(row))
                    print(lines[-1], flush=True)
                    write_out(lines, {**meta, "rows": [asdict(r) for r in rows]})
                del pipeline
                if cuda:
                    torch.cuda.empty_cache()
    print(f"# total {time.perf_counter() - started:.1f}s", flush=True)


if __name__ == "__main__":
    main()
