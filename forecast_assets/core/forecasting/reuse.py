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
        ordered = frame[columns].sort_values(columns, kind="stable", ignore_index=True)
        hashed = pd.util.hash_pandas_object(ordered, index=False).to_numpy(dtype=np.uint64)
        digest.update(hashed.tobytes())
    return digest.hexdigest()[:32]


def _by_date(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``frame``'s row hashes and dates, ordered by date (then item), and its columns: each
    cutoff's rows up to a day are then one contiguous run of the hashes, hashed once."""
    columns = sorted(frame.columns)
    keys = ["date", *(c for c in ("item_id",) if c in frame.columns)]
    ordered = frame[columns].sort_values(keys, kind="stable", ignore_index=True)
    hashed = pd.util.hash_pandas_object(ordered, index=False).to_numpy(dtype=np.uint64)
    return hashed, pd.to_datetime(ordered["date"]).to_numpy(), columns


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
    restated day the model never saw does not refit it. Rows are hashed once and ordered by
    date, so each cutoff's window is one contiguous run of them: cheap enough for every origin
    of a 30,000-item client.
    """
    hashed, dates, columns = _by_date(demand)
    head = hashlib.sha256(spec_digest(spec).encode())
    head.update(json.dumps(columns).encode())
    prints = {}
    for cutoff in cutoffs:
        cutoff = pd.Timestamp(cutoff)
        end = int(np.searchsorted(dates, cutoff.to_datetime64(), side="right"))
        start = 0
        if window_days:
            first = (cutoff - pd.Timedelta(days=window_days)).to_datetime64()
            start = int(np.searchsorted(dates, first, side="right"))
        digest = head.copy()
        digest.update(hashed[start:end].tobytes())
        prints[cutoff] = digest.hexdigest()[:32]
    return prints


def inputs_fingerprints(
    cutoffs: Sequence[pd.Timestamp],
    spec: Mapping[str, object],
    *,
    history: pd.DataFrame,
    ahead: Sequence[pd.DataFrame] = (),
    horizon: int = 0,
    whole: Sequence[pd.DataFrame] = (),
) -> dict[pd.Timestamp, str]:
    """The fingerprint of what a model forecasting from each cutoff is built from: the
    ``history`` rows up to the cutoff, the ``ahead`` rows (known-future covariates, dated) up to
    the end of its ``horizon``, and the ``whole`` frames (undated: item attributes).

    Why the raw inputs and not the frames built from them: a backtest is then fingerprinted
    without building its frames (most of a refresh's cost for the global model), and each
    frame is hashed once for every cutoff, as in :func:`demand_fingerprints`. The caller leaves
    out any column whose value at a cutoff is not what the model saw then (see
    ``global_model.origin_fingerprints``).
    """
    digest = hashlib.sha256(spec_digest(spec).encode())
    for frame in whole:
        digest.update(frames_fingerprint([frame], {}).encode())
    dated = [(_by_date(frame), 0) for frame in (history,)] + [(_by_date(frame), horizon) for frame in ahead]
    prints = {}
    for cutoff in cutoffs:
        cutoff = pd.Timestamp(cutoff)
        each = digest.copy()
        for (hashed, dates, columns), days in dated:
            last = (cutoff + pd.Timedelta(days=days)).to_datetime64()
            end = int(np.searchsorted(dates, last, side="right"))
            each.update(json.dumps([columns, end]).encode())
            each.update(hashed[:end].tobytes())
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
