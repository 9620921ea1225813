"""Streaming a client's items through Chronos in slices, spooling each slice's forecast to Parquet.

Memory is bounded by one slice of items (its history, frames and forecasts), not by the client:
a slice is read, checked, forecast from every origin and written to a Parquet file before the
next is read. The caller publishes the spooled files in one transaction, so nothing half-done
ever reaches the warehouse.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl

from forecast_assets.core.forecasting.chronos_frames import build_frames
from forecast_assets.core.forecasting.chronos_model import item_chunks, model_name, predict_origins
from forecast_assets.core.forecasting.frame import forecast_problems, to_forecast_table
from forecast_assets.core.running.progress import progress_line

ChunkReader = Callable[[list[str]], tuple[pd.DataFrame, pd.DataFrame]]
EXCLUSION_SCHEMA = {
    "as_of": pl.Date,
    "kind": pl.Utf8,
    "cutoff": pl.Date,
    "model": pl.Utf8,
    "item_id": pl.Utf8,
    "reason": pl.Utf8,
}


@dataclass
class StreamResult:
    """The spooled files and what a run needs to report about them."""

    files: list[Path] = field(default_factory=list)
    exclusions: list[dict[str, object]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    covered: set[str] = field(default_factory=set)
    covariates: tuple[str, ...] = ()
    chunks: int = 0
    series: int = 0  # series forecast, over every origin
    model_seconds: float = 0.0
    _hash: Any = field(default_factory=hashlib.sha256)

    @property
    def excluded_items(self) -> dict[str, str]:
        """Items left to the baselines in the live forecast, with the reason."""
        return {str(e["item_id"]): str(e["reason"]) for e in self.exclusions if e["kind"] == "forecast"}

    @property
    def fingerprint(self) -> str:
        """A short content hash of every input slice, logged with the run for traceability."""
        return self._hash.hexdigest()[:16]

    def exclusion_table(self) -> pl.DataFrame:
        return pl.DataFrame(self.exclusions, schema=EXCLUSION_SCHEMA, orient="row")


def forecast_rows(
    forecast: pd.DataFrame,
    as_of: pd.Timestamp,
    kind: str,
    cutoff: pd.Timestamp,
    model_id: str,
    run_id: str | None,
) -> pd.DataFrame:
    """A model's forecast with the columns every ``ml.*_forecast`` row carries."""
    out = forecast.copy()
    out.insert(0, "as_of", as_of.date())
    out.insert(1, "kind", kind)
    out.insert(2, "cutoff", pd.Timestamp(cutoff).date())
    out["model_id"] = model_id
    out["mlflow_run_id"] = run_id
    out["date"] = pd.to_datetime(out["date"]).dt.date
    return out


@dataclass(frozen=True)
class StreamSpec:
    """What one Chronos stream forecasts and how: plain, immutable values fixed before it starts.

    Why one object: the asset builds it once from its resources and params, and the same spec
    can be logged, compared, or replayed with :func:`dataclasses.replace` in tests and
    benchmarks. ``items`` are forecast from every ``(kind, cutoff)`` in ``origins``; ``run_id``
    (the tracking run) is stamped on every row. ``chunk_items`` bounds memory (items per slice),
    ``batch_size`` the series per model call.
    """

    client_id: str
    as_of: pd.Timestamp
    horizon: int
    quantiles: tuple[float, ...]
    model_id: str
    items: tuple[str, ...] = field(repr=False)
    origins: tuple[tuple[str, pd.Timestamp], ...]
    chunk_items: int = 1024
    batch_size: int = 256
    context_length: int | None = None
    cross_learning: bool = False
    min_history: int = 1
    run_id: str | None = None

    def __post_init__(self) -> None:
        # Lists passed in are frozen to tuples, so the spec really cannot change under a run.
        object.__setattr__(self, "items", tuple(self.items))
        object.__setattr__(self, "origins", tuple(self.origins))
        object.__setattr__(self, "quantiles", tuple(self.quantiles))


def stream_forecasts(
    pipeline,
    spec: StreamSpec,
    read_chunk: ChunkReader,
    spool: Path,
    *,
    events: pd.DataFrame | None = None,
    log: Callable[[str], None] | None = None,
) -> StreamResult:
    """Forecast ``spec.items`` from every origin of ``spec``, one slice at a time.

    ``read_chunk(items)`` returns that slice's demand and calendar (read only up to ``as_of`` and
    ``as_of + horizon``); ``events`` (optional) are the client's event columns per date. Each
    slice's rows go to ``spool/chunk-NNNNN.parquet``.
    """
    result = StreamResult()
    name = model_name(pipeline)
    chunks = list(item_chunks(spec.items, spec.chunk_items))
    stream_started, done = time.perf_counter(), 0
    for number, chunk in enumerate(chunks):
        demand, calendar = read_chunk(chunk)
        result._hash.update(pd.util.hash_pandas_object(demand, index=False).to_numpy().tobytes())
        built = []
        for kind, cutoff in spec.origins:
            frames = build_frames(
                demand,
                calendar,
                cutoff,
                spec.horizon,
                client_id=spec.client_id,
                events=events,
                context_length=spec.context_length,
                min_history=spec.min_history,
            )
            result.covariates = frames.future_covariates
            result.exclusions += [
                {
                    "as_of": spec.as_of.date(),
                    "kind": kind,
                    "cutoff": pd.Timestamp(cutoff).date(),
                    "model": name,
                    "item_id": item,
                    "reason": reason,
                }
                for item, reason in frames.excluded.items()
            ]
            built.append((pd.Timestamp(cutoff), frames))
        started = time.perf_counter()
        # Every origin of the slice in one predict_df call (separate calls with cross-learning).
        forecasts = predict_origins(
            pipeline,
            built,
            spec.horizon,
            spec.quantiles,
            batch_size=spec.batch_size,
            context_length=spec.context_length,
            cross_learning=spec.cross_learning,
        )
        result.model_seconds += time.perf_counter() - started
        tables = []
        for (kind, cutoff), (_, frames), forecast in zip(spec.origins, built, forecasts, strict=True):
            result.series += frames.context["item_id"].nunique()
            if kind == "forecast":
                result.covered |= set(forecast["item_id"])
                result.problems += forecast_problems(
                    forecast, set(frames.context["item_id"]), spec.horizon, spec.quantiles
                )
            tables.append(
                to_forecast_table(
                    forecast_rows(forecast, spec.as_of, kind, cutoff, spec.model_id, spec.run_id),
                    spec.quantiles,
                )
            )
        path = spool / f"chunk-{number:05d}.parquet"
        pl.concat(tables).write_parquet(path)
        result.files.append(path)
        result.chunks += 1
        done += len(chunk)
        if log:
            label = f"chronos chunk {number + 1}/{len(chunks)} ({len(spec.origins)} origins spooled)"
            log(progress_line(label, done, len(spec.items), time.perf_counter() - stream_started))
    return result
