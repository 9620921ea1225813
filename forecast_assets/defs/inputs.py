"""Readers shared by the stage assets: one client's modelled inputs, the forecast origin, and the
forecasts and champions one stage writes and a later stage reads.

The readers live here, not in the asset module that writes the table, so no stage's asset module
imports another's (tests/test_architecture.py holds that line).
"""

from collections.abc import Callable, Iterator, Sequence

import pandas as pd
import polars as pl
from dagster import Config

from forecast_assets.core.clients import validate_client_key
from forecast_assets.core.evaluation.metrics import seasonal_scales
from forecast_assets.core.forecasting.chronos_model import item_chunks
from forecast_assets.core.forecasting.global_model import Calibration, stored_calibration
from forecast_assets.core.forecasting.reuse import StoredOrigin
from forecast_assets.core.landing.validation import events_wide
from forecast_assets.resources.warehouse import Warehouse, date_filter

DEMAND_TABLE = "analytics.ts_demand_daily"
CALENDAR_TABLE = "analytics.covariate_calendar"
EVENTS_TABLE = "raw.events"
# The single models' tables (the ensembles' members) and, after them, the ensembles' own table.
MODEL_TABLES = ("ml.chronos_forecast", "ml.baseline_forecast", "ml.global_forecast")
FORECAST_TABLES = (*MODEL_TABLES, "ml.ensemble_forecast")
PRODUCTS_TABLE = "raw.products"
EVALUATION_TABLE = "ml.forecast_evaluation"
# One row per (forecast table, as_of, origin) written: the origin's input fingerprint, and whether
# it was fitted or read back from an earlier run (core/forecasting/reuse.py).
ORIGINS_TABLE = "ml.forecast_origins"
# The global model's live conformal calibration per slice (core/forecasting/global_model.py), and
# the members trained on the same grid day's data (LightGBM text), by the same fingerprint.
CALIBRATION_TABLE = "ml.global_calibration"
MEMBERS_TABLE = "ml.global_members"
# Items per read of the whole history, for the seasonal scales: about a million rows of M5's 5.3
# years. At 2,000 a 1,000-item client's evaluation peaked as high as reading everything
# (docs/benchmarks.md); a read per 500 items costs a query each, a small part of the step.
SCALE_SLICE_ITEMS = 500


class ForecastRunConfig(Config):
    """Run config of the forecasting, evaluation and inventory assets.

    ``as_of`` is the forecast origin (the last date of data used), YYYY-MM-DD. Left empty it is
    the client's last day of data; set it to an earlier date for a retrospective run: nothing
    dated after it is read for the target or the past covariates. ``refit_backtests`` fits
    every backtest origin even where a stored forecast from the same inputs could be reused.
    """

    as_of: str | None = None
    # Fit every backtest origin again even where an earlier run forecast it from the same data.
    refit_backtests: bool = False


# The steps that take ForecastRunConfig: a run for one origin sets ``as_of`` on each of them.
AS_OF_OPS = (
    "chronos_forecast",
    "baseline_forecast",
    "global_forecast",
    "ensemble_forecast",
    "forecast_evaluation",
    "inventory_metrics",
)


def _dated(frame: pl.DataFrame) -> pd.DataFrame:
    out = frame.to_pandas()
    out["date"] = pd.to_datetime(out["date"])
    return out.sort_values(["item_id", "date"]).reset_index(drop=True)


def _read(
    warehouse: Warehouse,
    table: str,
    client_id: str,
    until: pd.Timestamp | None,
    items: Sequence[str] | None,
    since: pd.Timestamp | None = None,
) -> pl.DataFrame:
    """One client's rows of ``table``, optionally only some items and only dates in ``(since, until]``."""
    last = until.date() if until is not None else None
    first = since.date() if since is not None else None
    if items is not None:
        return warehouse.read_client_items(table, client_id, items, last, first)
    return warehouse.read_client(table, client_id, *date_filter(first, last))


def load_demand(
    warehouse: Warehouse,
    client_id: str,
    until: pd.Timestamp | None = None,
    items: Sequence[str] | None = None,
    since: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Daily demand of a client (optionally only some items, only dates in ``(since, until]``).

    A step that looks back a bounded window passes ``since``: a client with years of history
    (M5: 5.3) then costs the window's rows, not the whole history's, in memory and time.
    """
    frame = _read(warehouse, DEMAND_TABLE, client_id, until, items, since)
    if frame.is_empty():
        raise ValueError(
            f"client '{client_id}' has no rows in {DEMAND_TABLE}"
            + (f" after {since.date()}" if since is not None else "")
            + ": did ingestion accept any sales?"
        )
    return _dated(frame)


def load_seasonal_scales(
    warehouse: Warehouse,
    client_id: str,
    origins: Sequence[pd.Timestamp],
    slice_items: int = SCALE_SLICE_ITEMS,
) -> pd.DataFrame:
    """Each item's MASE/SQL scale at every origin (:func:`seasonal_scales`), over its whole
    history up to the origin, read ``slice_items`` items at a time: the one part of an
    evaluation that needs all of a client's history, so only the scales of a slice are kept."""
    until = max(origins) if len(origins) else None
    items = client_items(warehouse, client_id, until) if until is not None else []
    parts = [
        seasonal_scales(load_demand(warehouse, client_id, until=until, items=chunk), origins)
        for chunk in item_chunks(items, slice_items)
    ]
    if not parts:  # no origin, or every origin before the client's first day
        return seasonal_scales(pd.DataFrame(columns=["item_id", "date", "units_sold"]), [])
    return pd.concat(parts, ignore_index=True)


def load_calendar(
    warehouse: Warehouse,
    client_id: str,
    until: pd.Timestamp | None = None,
    items: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Known-future covariates per item and day (optionally some items, only up to ``until``)."""
    return _dated(_read(warehouse, CALENDAR_TABLE, client_id, until, items))


def load_events(warehouse: Warehouse, client_id: str) -> pd.DataFrame | None:
    """The client's events as ``event_<name>`` columns per date, or None when it sent none."""
    if not warehouse.table_exists(EVENTS_TABLE):
        return None
    return events_wide(warehouse.read_client(EVENTS_TABLE, client_id))


def client_items(warehouse: Warehouse, client_id: str, until: pd.Timestamp) -> list[str]:
    """Items with any demand row up to ``until``, in a stable order."""
    frame = warehouse.query(
        f"select distinct item_id from {DEMAND_TABLE} where client_id = ? and date <= ? order by item_id",
        [client_id, until.date()],
    )
    return frame["item_id"].to_list()


def date_bounds(warehouse: Warehouse, client_id: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The client's first and last day of demand data."""
    found = warehouse.query(
        f"select min(date) as first, max(date) as last from {DEMAND_TABLE} where client_id = ?", [client_id]
    )
    if not found.height or found["last"][0] is None:
        raise ValueError(
            f"client '{client_id}' has no rows in {DEMAND_TABLE}: did ingestion accept any sales?"
        )
    return pd.Timestamp(found["first"][0]), pd.Timestamp(found["last"][0])


def last_date(warehouse: Warehouse, client_id: str) -> pd.Timestamp:
    """The client's last day of demand data (the default forecast origin)."""
    return date_bounds(warehouse, client_id)[1]


def resolve_as_of(config: ForecastRunConfig, last: pd.Timestamp | pd.DataFrame) -> pd.Timestamp:
    """The forecast origin: the configured date, else the last date with data."""
    last = pd.Timestamp(last["date"].max()) if isinstance(last, pd.DataFrame) else pd.Timestamp(last)
    if not config.as_of:
        return last
    as_of = pd.Timestamp(config.as_of)
    if as_of > last:
        raise ValueError(f"as_of {as_of.date()} is after the last date with data ({last.date()})")
    return as_of


def load_champions(warehouse: Warehouse, client_id: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """item_id -> champion_model for one client and origin."""
    return (
        warehouse.read_client(EVALUATION_TABLE, client_id, "as_of = ? and is_champion", [as_of.date()])
        .to_pandas()[["item_id", "model"]]
        .rename(columns={"model": "champion_model"})
    )


def load_categories(warehouse: Warehouse, client_id: str) -> pd.Series:
    """item_id -> category from the client's products (empty when it sent none)."""
    if not warehouse.table_exists(PRODUCTS_TABLE):
        return pd.Series(dtype=object)
    products = warehouse.read_client(PRODUCTS_TABLE, client_id).to_pandas()
    if products.empty or "category" not in products.columns:
        return pd.Series(dtype=object)
    return products.drop_duplicates("item_id").set_index("item_id")["category"]


def calibration_lookup(
    warehouse: Warehouse, client_id: str, warn: Callable[[str], None] | None = None
) -> Callable[[str], Calibration | None]:
    """The global model's ``calibration_lookup`` for one step: the calibration (errors, and the
    members trained on the same data) an earlier run stored for a fingerprint, or None (then the
    slice is calibrated and trained again).

    The client's stored fingerprints are read once, here, so the origins and slices that have none
    stored (every backtest, and every slice on a training day) cost no query; a hit reads its own
    rows. Rows gone since (another run of the client replaced them) or damaged (``warn`` is told
    why) count as none stored: the run fits again and its write replaces them.
    """
    validate_client_key(client_id)
    if not warehouse.table_exists(CALIBRATION_TABLE):
        return lambda fingerprint: None
    stored = warehouse.query(
        f"select distinct fingerprint from {CALIBRATION_TABLE} where client_id = ?", [client_id]
    )
    known = set(stored["fingerprint"].to_list())
    with_members = warehouse.table_exists(MEMBERS_TABLE)

    def lookup(fingerprint: str) -> Calibration | None:
        if fingerprint not in known:
            return None
        rows = warehouse.read_client(CALIBRATION_TABLE, client_id, "fingerprint = ?", [fingerprint])
        if not rows.height:
            return None
        members = (
            warehouse.read_client(MEMBERS_TABLE, client_id, "fingerprint = ?", [fingerprint]).to_pandas()
            if with_members
            else pd.DataFrame()
        )
        try:
            return stored_calibration(rows.to_pandas(), members)
        except ValueError as damaged:
            if warn is not None:
                warn(f"{CALIBRATION_TABLE}: {damaged}; calibrating again")
            return None

    return lookup


def _read_forecasts(
    warehouse: Warehouse,
    client_id: str,
    where: str,
    params: list,
    tables: Sequence[str] = FORECAST_TABLES,
) -> pd.DataFrame:
    """Rows of every forecast table that exists (a model that never ran has none), in one frame."""
    frames = [
        warehouse.read_client(table, client_id, where, params).to_pandas()
        for table in tables
        if warehouse.table_exists(table)
    ]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    for column in ("date", "cutoff", "as_of"):
        out[column] = pd.to_datetime(out[column])
    return out


def load_forecasts(
    warehouse: Warehouse, client_id: str, as_of: pd.Timestamp, tables: Sequence[str] = FORECAST_TABLES
) -> pd.DataFrame:
    """Forecast and backtest rows of every model (of ``tables``) for one client and origin."""
    out = _read_forecasts(warehouse, client_id, "as_of = ?", [as_of.date()], tables)
    if out.empty:
        raise ValueError(f"no forecasts for client '{client_id}' at as_of {as_of.date()}")
    return out


def earlier_origins(
    warehouse: Warehouse, client_id: str, as_of: pd.Timestamp, since: pd.Timestamp | None = None
) -> list[pd.Timestamp]:
    """The earlier origins (as_of dates) with a live forecast date that now has actuals, in order.

    With ``since`` (the previous evaluation's as_of), only those with a forecast date in
    ``(since, as_of]``: the ones whose score can have changed since that evaluation. An origin
    whose horizon had elapsed by then was scored in full then, so a daily run finds at most a
    horizon's worth of origins, however many runs the client has had; without the bound it would
    rescore every live forecast ever stored, every day.
    """
    where, params = "kind = 'forecast' and as_of < ? and date <= ?", [as_of.date(), as_of.date()]
    if since is not None:
        where, params = f"{where} and date > ?", [*params, since.date()]
    return sorted(
        {
            pd.Timestamp(day)
            for table in FORECAST_TABLES
            if warehouse.table_exists(table)
            for day in warehouse.query(
                f"select distinct as_of from {table} where client_id = ? and {where}", [client_id, *params]
            )["as_of"]
        }
    )


def load_live_forecast(
    warehouse: Warehouse, client_id: str, origin: pd.Timestamp, until: pd.Timestamp
) -> pd.DataFrame:
    """Every model's live forecast made at ``origin``, on its dates up to ``until``."""
    where = "kind = 'forecast' and as_of = ? and date <= ?"
    return _read_forecasts(warehouse, client_id, where, [origin.date(), until.date()])


def load_earlier_forecasts(
    warehouse: Warehouse, client_id: str, as_of: pd.Timestamp, origins: Sequence[pd.Timestamp]
) -> Iterator[pd.DataFrame]:
    """The live forecasts of ``origins`` (:func:`earlier_origins`), one origin at a time, on their
    dates up to ``as_of``: an origin is scored on its own, so only one is held in memory (a
    30,000-item client's 28 origins of 8 models are nearly 100 million rows together, 7 million
    alone)."""
    for origin in origins:
        yield load_live_forecast(warehouse, client_id, origin, as_of)


def previous_evaluation(warehouse: Warehouse, client_id: str, as_of: pd.Timestamp) -> pd.Timestamp | None:
    """The as_of of the client's latest evaluation before ``as_of`` (None when there is none)."""
    if not warehouse.table_exists(EVALUATION_TABLE):
        return None
    found = warehouse.query(
        f"select max(as_of) as previous from {EVALUATION_TABLE} where client_id = ? and as_of < ?",
        [client_id, as_of.date()],
    )
    previous = found["previous"][0] if found.height else None
    return None if previous is None else pd.Timestamp(previous)


def stored_origins(
    warehouse: Warehouse, client_id: str, table: str, cutoffs: Sequence[pd.Timestamp]
) -> list[StoredOrigin]:
    """The origins of ``table`` already written for this client at any of ``cutoffs`` whose rows
    are still there (the live origin of an earlier run, or a backtest from the same cutoff)."""
    if not cutoffs or not warehouse.table_exists(ORIGINS_TABLE) or not warehouse.table_exists(table):
        return []
    days = sorted({pd.Timestamp(c).date() for c in cutoffs})
    marks = ", ".join("?" for _ in days)
    found = warehouse.query(
        f"select o.as_of, o.kind, o.cutoff, o.fingerprint from {ORIGINS_TABLE} o "
        f"where o.client_id = ? and o.source_table = ? and o.cutoff in ({marks}) "
        f"and exists (select 1 from {table} f where f.client_id = o.client_id and f.as_of = o.as_of "
        "and f.kind = o.kind and f.cutoff = o.cutoff)",
        [client_id, table, *days],
    )
    return [
        StoredOrigin(pd.Timestamp(r["as_of"]), r["kind"], pd.Timestamp(r["cutoff"]), r["fingerprint"])
        for r in found.iter_rows(named=True)
    ]


def stored_origin_rows(
    warehouse: Warehouse, client_id: str, table: str, origin: StoredOrigin
) -> pl.DataFrame:
    """The forecast rows of one stored origin."""
    return warehouse.read_client(
        table,
        client_id,
        "as_of = ? and kind = ? and cutoff = ?",
        [origin.as_of.date(), origin.kind, origin.cutoff.date()],
    )
