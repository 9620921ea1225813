"""Reusing forecasts already made: an origin is fitted once, not on every run.

Why: a rolling-origin backtest refits every model at every cutoff on every run, and on a client
of tens of thousands of items that is most of the nightly cost (issue 16: AutoETS and AutoTheta
at four origins). But a forecast from a cutoff depends only on what the model saw up to it. With
the defaults (horizon 28, backtest cutoffs ``as_of - 28 - 7k``), the cutoffs of today's run are
the live origins of the runs 28, 35 and 42 days ago, so once a client has that much live history
each run fits each model once, at ``as_of``, and reads its backtests back.

Reuse is safe only when the inputs are the same, so every origin written gets a fingerprint:
a hash of what the model fitted on (for the baselines, the client's demand up to the cutoff; for
the global model, the demand up to the cutoff and the known-future covariates and events to the
end of its horizon, from which it builds its frames) together with the model's specification
(horizon, quantile levels, parameters, library versions, the code that builds the features). A backtest
origin is reused only when a stored origin of the same table has the same cutoff and the same
fingerprint; a restated history, a new parameter or an upgraded library changes the fingerprint
and the origin is refitted. The live origin is always fitted: a run is asked for to forecast.
A cold start (no stored origins) is the full rolling-origin backtest, as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import polars as pl

Origin = tuple[str, pd.Timestamp]  # (kind, cutoff): ("forecast", as_of) or ("backtest", cutoff)


def spec_digest(spec: Mapping[str, object]) -> str:
    """A stable digest of a model's specification (key order does not matter)."""
    text = json.dumps({str(k): str(v) for k, v in spec.items()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def code_digest(*modules: object) -> str:
    """A digest of the source of the modules that compute a forecast, so a change to the code
    (not only a new release) invalidates what the old code forecast."""
    import inspect

    digest = hashlib.sha256()
    for module in modules:
        digest.update(inspect.getsource(module).encode())  # type: ignore[arg-type]
    return digest.hexdigest()[:16]


def frames_fingerprint(frames: Sequence[pd.DataFrame], spec: Mapping[str, object]) -> str:
    """The fingerprint of what a model fits on: the frames' contents (rows in any order, columns
    by name) and its specification. Two fits with equal fingerprints produce the same forecast."""
    digest = hashlib.sha256(spec_digest(spec).encode())
    for frame in frames:
        columns = sorted(frame.columns)
        digest.update(json.dumps(columns).encode())
        if frame.empty:
            continue
        # Sorted row hashes: canonical in any row order, without sorting the rows themselves.
        hashed = pd.util.hash_pandas_object(frame[columns], index=False).to_numpy(dtype=np.uint64)
        digest.update(np.sort(hashed).tobytes())
    return digest.hexdigest()[:32]


# An odd 64-bit constant (2**64 / golden ratio): multiplying by it scatters a row hash's bits, so
# the second per-day sum does not move with the first (a multiset hash of two independent sums).
_MIX = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class DailyDigest:
    """One frame's rows summed by day: which days have rows, and per day the row count and two
    sums (modulo 2**64) of the rows' hashes; what :func:`inputs_fingerprints` hashes per cutoff."""

    days: np.ndarray  # datetime64[D], ascending: the days that have rows
    sums: np.ndarray  # (len(days), 3) uint64: rows, sum of row hashes, sum of mixed row hashes
    columns: list[str]


def daily_digest(frame: pd.DataFrame) -> DailyDigest:
    """``frame``'s rows hashed (columns by name) and summed per day, in one pass.

    Why sums and not the sorted hashes: a sum does not depend on the rows' order, so no sort is
    needed to make the digest canonical, and each cutoff's prefix of days is a few kilobytes to
    hash. Sorting the rows by date and item cost about 7 s per 22M-row frame, three quarters of
    a 30,490-item client's fingerprint (``benchmarks/fingerprint_cost.py``). Two sums of
    differently mixed 64-bit hashes, with the count, change with any row's value short of a
    2**-64 accident; nothing here guards against someone forging a collision, which a client
    gains nothing from (a fingerprint only decides whether its own backtest is reused).
    """
    columns = sorted(frame.columns)
    if frame.empty:
        return DailyDigest(np.array([], "datetime64[D]"), np.zeros((0, 3), np.uint64), columns)
    hashed = pd.util.hash_pandas_object(frame[columns], index=False).to_numpy(dtype=np.uint64)
    dates = pd.to_datetime(frame["date"]).to_numpy().astype("datetime64[D]")
    first = dates.min()
    offset = (dates - first).astype(np.intp)
    sums = np.zeros((int(offset.max()) + 1, 3), np.uint64)
    np.add.at(sums[:, 0], offset, np.uint64(1))
    np.add.at(sums[:, 1], offset, hashed)
    np.add.at(sums[:, 2], offset, (hashed * _MIX) ^ (hashed >> np.uint64(29)))
    present = sums[:, 0] > 0
    return DailyDigest(first + np.flatnonzero(present).astype("timedelta64[D]"), sums[present], columns)


def summed(digests: Sequence[DailyDigest]) -> DailyDigest:
    """The digest of disjoint parts of one frame (item slices) taken together: the digest of the
    whole, since a day's count and sums are the sums of its parts'. Why: a step that reads its
    client a slice at a time fingerprints it without holding it all."""
    columns = digests[0].columns if digests else []
    if any(d.columns != columns for d in digests):
        raise ValueError(
            f"parts of one frame with different columns: {sorted({tuple(d.columns) for d in digests})}"
        )
    digests = [d for d in digests if len(d.days)]
    if not digests:
        return DailyDigest(np.array([], "datetime64[D]"), np.zeros((0, 3), np.uint64), columns)
    days = np.unique(np.concatenate([d.days for d in digests]))
    sums = np.zeros((len(days), 3), np.uint64)
    for digest in digests:
        np.add.at(sums, np.searchsorted(days, digest.days), digest.sums)
    return DailyDigest(days, sums, columns)


def demand_fingerprints(
    demand: pd.DataFrame,
    cutoffs: Sequence[pd.Timestamp],
    spec: Mapping[str, object],
    window_days: int = 0,
) -> dict[pd.Timestamp, str]:
    """The fingerprint of the ``demand`` a per-item statistical model sees at each cutoff: the
    ``window_days`` days up to it (0: every day up to it).

    Only the window is hashed, so a run that reads just the windows it needs (``since``) gets
    the same fingerprint for a cutoff as the earlier run whose live origin it was, and a
    restated day the model never saw does not refit it.
    """
    return inputs_fingerprints(cutoffs, spec, history=demand, window_days=window_days)


def inputs_fingerprints(
    cutoffs: Sequence[pd.Timestamp],
    spec: Mapping[str, object],
    *,
    history: pd.DataFrame | DailyDigest,
    window_days: int = 0,
    ahead: Sequence[pd.DataFrame | DailyDigest] = (),
    horizon: int = 0,
    whole: Sequence[pd.DataFrame] = (),
) -> dict[pd.Timestamp, str]:
    """The fingerprint of what a model forecasting from each cutoff is built from: the
    ``history`` rows of the ``window_days`` days up to the cutoff (0: all of them), the
    ``ahead`` rows (known-future covariates, dated) up to the end of its ``horizon``, and the
    ``whole`` frames (undated: item attributes), with the model's ``spec``. A dated frame may
    come as its :func:`daily_digest` already (:func:`summed` over item slices).

    Why the raw inputs and not the frames built from them: a backtest is then fingerprinted
    without building its frames (most of a refresh's cost for the global model). Each frame's
    rows are hashed and summed by day once (:func:`daily_digest`), and each cutoff hashes its
    run of days: cheap enough for every origin of a 30,000-item client. The
    caller leaves out any column whose value at a cutoff is not what the model saw then (see
    ``global_model.origin_fingerprints``).
    """
    digest = hashlib.sha256(spec_digest(spec).encode())
    for frame in whole:
        digest.update(frames_fingerprint([frame], {}).encode())

    def digest_of(frame: pd.DataFrame | DailyDigest) -> DailyDigest:
        return frame if isinstance(frame, DailyDigest) else daily_digest(frame)

    dated = [(digest_of(history), 0, window_days)] + [(digest_of(f), horizon, 0) for f in ahead]
    prints = {}
    for cutoff in cutoffs:
        cutoff = pd.Timestamp(cutoff)
        each = digest.copy()
        for frame, days_after, days_before in dated:
            last = (cutoff + pd.Timedelta(days=days_after)).to_datetime64().astype("datetime64[D]")
            end = int(np.searchsorted(frame.days, last, side="right"))
            start = 0
            if days_before:
                first = (cutoff - pd.Timedelta(days=days_before)).to_datetime64().astype("datetime64[D]")
                start = int(np.searchsorted(frame.days, first, side="right"))
            each.update(json.dumps(frame.columns).encode())
            each.update(frame.days[start:end].tobytes())
            each.update(np.ascontiguousarray(frame.sums[start:end]).tobytes())
        prints[cutoff] = each.hexdigest()[:32]
    return prints


ORIGIN_SCHEMA: dict[str, pl.DataType] = {
    "source_table": pl.Utf8,
    "as_of": pl.Date,
    "kind": pl.Utf8,
    "cutoff": pl.Date,
    "fingerprint": pl.Utf8,
    "fitted": pl.Boolean,
    "reused_from_as_of": pl.Date,
    "mlflow_run_id": pl.Utf8,
}


@dataclass(frozen=True)
class StoredOrigin:
    """An origin already in a forecast table: which rows (``as_of``, ``kind``) and from what."""

    as_of: pd.Timestamp
    kind: str
    cutoff: pd.Timestamp
    fingerprint: str


@dataclass
class OriginPlan:
    """Which origins to fit, and which backtest origins to read back from stored rows."""

    fit: list[Origin] = field(default_factory=list)
    reuse: dict[pd.Timestamp, StoredOrigin] = field(default_factory=dict)  # cutoff -> stored rows


def plan_origins(
    origins: Sequence[Origin],
    fingerprints: Mapping[pd.Timestamp, str],
    stored: Sequence[StoredOrigin],
    reuse: bool = True,
) -> OriginPlan:
    """Split ``origins`` into those to fit and the backtests to reuse.

    A backtest origin is reused when a stored origin has its cutoff and its fingerprint: an
    earlier run's live forecast from that day, or its backtest from the same cutoff (a rerun of
    the same ``as_of`` included: its rows are read before they are replaced). Of several matches
    the latest ``as_of`` wins. The live origin, and everything when ``reuse`` is false, is fitted.
    """
    plan = OriginPlan()
    for kind, cutoff in origins:
        cutoff = pd.Timestamp(cutoff)
        matches = [
            s
            for s in stored
            if reuse
            and kind == "backtest"
            and pd.Timestamp(s.cutoff) == cutoff
            and s.fingerprint == fingerprints.get(cutoff)
        ]
        if matches:
            plan.reuse[cutoff] = max(matches, key=lambda s: pd.Timestamp(s.as_of))
        else:
            plan.fit.append((kind, cutoff))
    return plan


def as_backtest(rows: pl.DataFrame, as_of: pd.Timestamp) -> pl.DataFrame:
    """Stored rows of one origin relabelled as this run's backtest from the same cutoff; the
    model, model_id and the MLflow run that fitted them are kept, so their provenance stays true."""
    return rows.drop("client_id", strict=False).with_columns(
        pl.lit(pd.Timestamp(as_of).date()).alias("as_of"), pl.lit("backtest").alias("kind")
    )


def origin_rows(
    table: str,
    as_of: pd.Timestamp,
    origins: Sequence[Origin],
    fingerprints: Mapping[pd.Timestamp, str],
    plan: OriginPlan,
    run_id: str | None,
) -> pl.DataFrame:
    """The ``ml.forecast_origins`` rows of one run of one table: one per origin, with its
    fingerprint and whether it was fitted now or read back (and from which ``as_of``)."""
    records = []
    for kind, cutoff in origins:
        cutoff = pd.Timestamp(cutoff)
        source = plan.reuse.get(cutoff)
        records.append(
            {
                "source_table": table,
                "as_of": pd.Timestamp(as_of).date(),
                "kind": kind,
                "cutoff": cutoff.date(),
                "fingerprint": fingerprints[cutoff],
                "fitted": source is None,
                "reused_from_as_of": None if source is None else pd.Timestamp(source.as_of).date(),
                "mlflow_run_id": run_id,
            }
        )
    return pl.DataFrame(records, schema=ORIGIN_SCHEMA)
