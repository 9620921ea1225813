"""The landing format and its validation: every input row is accepted or rejected with a reason.

A client delivers files under ``landing/<client>/``. Each kind of file (sales, products, promotions,
stock_levels, and the optional events) may arrive as CSV or Parquet, as ``<kind>.csv``,
``<kind>_anything.parquet`` or inside a ``<kind>/`` folder. Values are read as text first and
parsed here, so that a bad cell rejects its row (naming file, row and field) instead of failing the
whole file or being coerced silently.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import polars as pl

from forecast_assets.core.clients import validate_client_key

REJECT_SCHEMA = {
    "client_id": pl.Utf8,
    "kind": pl.Utf8,
    "source_file": pl.Utf8,
    "source_row": pl.Int64,
    "field": pl.Utf8,
    "reason": pl.Utf8,
    "record": pl.Utf8,
}


@dataclass(frozen=True)
class FileKind:
    """One kind of landing file: its columns, their types and its natural key."""

    name: str
    required: dict[str, pl.DataType]
    optional: dict[str, pl.DataType] = field(default_factory=dict)
    key: tuple[str, ...] = ()
    non_negative: tuple[str, ...] = ()
    # Checked against accepted products: item ids a client never described are rejected.
    needs_known_item: bool = True

    @property
    def columns(self) -> dict[str, pl.DataType]:
        return {**self.required, **self.optional}


PRODUCTS = FileKind(
    name="products",
    required={
        "item_id": pl.Utf8,
        "name": pl.Utf8,
        "category": pl.Utf8,
        "unit_cost": pl.Float64,
        "price": pl.Float64,
        "lead_time_days": pl.Float64,
    },
    optional={"lead_time_std_days": pl.Float64, "moq": pl.Float64, "pack_size": pl.Float64},
    key=("item_id",),
    non_negative=("unit_cost", "price", "lead_time_days", "lead_time_std_days", "moq", "pack_size"),
    needs_known_item=False,
)
SALES = FileKind(
    name="sales",
    required={"date": pl.Date, "item_id": pl.Utf8, "units_sold": pl.Float64},
    optional={"price": pl.Float64, "revenue": pl.Float64},
    key=("item_id", "date"),
    non_negative=("units_sold", "price", "revenue"),
)
PROMOTIONS = FileKind(
    name="promotions",
    required={
        "item_id": pl.Utf8,
        "start_date": pl.Date,
        "end_date": pl.Date,
        "promo_type": pl.Utf8,
    },
    optional={"discount": pl.Float64},
    key=("item_id", "start_date", "promo_type"),
    non_negative=("discount",),
)
STOCK_LEVELS = FileKind(
    name="stock_levels",
    required={"item_id": pl.Utf8, "date": pl.Date, "on_hand": pl.Float64, "on_order": pl.Float64},
    key=("item_id", "date"),
    non_negative=("on_hand", "on_order"),
)
FILE_KINDS: tuple[FileKind, ...] = (PRODUCTS, SALES, PROMOTIONS, STOCK_LEVELS)

# events: ``date`` plus any numeric columns (a local event flag, a benefits-payment day, ...), past
# and future dates. Each column becomes a known-future covariate of every item of the client. The
# columns differ per client, so accepted rows are stored long: one row per (date, event, value).
EVENTS = "events"
EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
EVENTS_SCHEMA = {
    "client_id": pl.Utf8,
    "date": pl.Date,
    "event": pl.Utf8,
    "value": pl.Float64,
    "source_file": pl.Utf8,
    "source_row": pl.Int64,
}
ALL_KINDS: tuple[str, ...] = (*(k.name for k in FILE_KINDS), EVENTS)


class LandingError(ValueError):
    """A landing folder that cannot be read at all (missing, or a file that is not CSV/Parquet)."""


@dataclass
class IngestResult:
    """Accepted rows per kind (typed, with lineage columns) and every rejected row."""

    client_id: str
    accepted: dict[str, pl.DataFrame]
    rejects: pl.DataFrame
    rows_in: dict[str, int]

    def counts(self, kind: str) -> dict[str, int]:
        rejected = self.rejects.filter(pl.col("kind") == kind).height
        # Events are stored long (a row per date and event): count the source rows they came from.
        accepted = self.accepted[kind].select("source_file", "source_row").unique().height
        return {"rows_in": self.rows_in[kind], "accepted": accepted, "rejected": rejected}


def client_landing_dir(landing_dir: Path, client_id: str) -> Path:
    """The folder of one client; the key is validated before it becomes a path segment."""
    return Path(landing_dir) / validate_client_key(client_id)


def find_files(folder: Path, kind: str) -> list[Path]:
    """Files of one kind in a client folder, sorted so that row order is reproducible."""
    candidates = list(folder.glob(f"{kind}.*")) + list(folder.glob(f"{kind}_*.*"))
    if (folder / kind).is_dir():
        candidates += list((folder / kind).glob("*.*"))
    return sorted(p for p in candidates if p.suffix.lower() in {".csv", ".parquet"})


def _read_as_text(path: Path) -> pl.DataFrame:
    """Read a landing file with every column as text (stripped), whatever the format."""
    try:
        if path.suffix.lower() == ".csv":
            frame = pl.read_csv(path, infer_schema=False)
        else:
            frame = pl.read_parquet(path)
            frame = frame.with_columns(pl.all().cast(pl.Utf8))
    except Exception as exc:  # polars raises several types for malformed files
        raise LandingError(f"{path}: cannot be read as {path.suffix[1:]}: {exc}") from exc
    frame = frame.rename({c: c.strip().lower() for c in frame.columns})
    return frame.with_columns(pl.all().str.strip_chars().replace("", None))


def _parse(column: str, dtype: pl.DataType) -> pl.Expr:
    text = pl.col(column)
    if dtype == pl.Date:
        return text.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    if dtype == pl.Float64:
        return text.cast(pl.Float64, strict=False)
    return text


def _reason_exprs(kind: FileKind, present: set[str], today: dt.date) -> list[tuple[str, pl.Expr, pl.Expr]]:
    """(field, condition-for-rejection, reason-text) in the order they are checked."""
    checks: list[tuple[str, pl.Expr, pl.Expr]] = []
    for column in kind.required:
        if column not in present:
            checks.append((column, pl.lit(True), pl.lit(f"file has no column '{column}'")))
    for column, dtype in kind.columns.items():
        if column not in present:
            continue
        raw = pl.col(f"__raw_{column}")
        if column in kind.required:
            checks.append((column, raw.is_null(), pl.lit("missing value")))
        type_name = {pl.Date: "date (YYYY-MM-DD)", pl.Float64: "number"}.get(dtype)
        if type_name:
            bad = raw.is_not_null() & pl.col(column).is_null()
            checks.append((column, bad, pl.format("not a valid {}: '{}'", pl.lit(type_name), raw)))
        if dtype == pl.Float64:
            checks.append(
                (
                    column,
                    pl.col(column).is_nan() | pl.col(column).is_infinite(),
                    pl.lit("not a finite number"),
                )
            )
    for column in kind.non_negative:
        if column in present:
            checks.append((column, pl.col(column) < 0, pl.format("negative value {}", pl.col(column))))
    if kind is SALES and "date" in present:
        checks.append(
            (
                "date",
                pl.col("date") > pl.lit(today),
                pl.lit(f"dated in the future (after {today.isoformat()})"),
            )
        )
    if kind is PROMOTIONS and {"start_date", "end_date"} <= present:
        checks.append(
            ("end_date", pl.col("end_date") < pl.col("start_date"), pl.lit("end_date is before start_date"))
        )
    if kind is PROMOTIONS and "discount" in present:
        checks.append(("discount", pl.col("discount") >= 1, pl.lit("discount must be a fraction below 1")))
    if kind is PRODUCTS and "pack_size" in present:
        checks.append(("pack_size", pl.col("pack_size") == 0, pl.lit("pack_size must be positive")))
    return checks


def _first_failure(checks: list[tuple[str, pl.Expr, pl.Expr]]) -> tuple[pl.Expr, pl.Expr]:
    """Expressions giving the first failing field and its reason per row (null when the row passes)."""
    field_expr: pl.Expr = pl.lit(None, dtype=pl.Utf8)
    reason_expr: pl.Expr = pl.lit(None, dtype=pl.Utf8)
    for column, condition, reason in reversed(checks):
        hit = condition.fill_null(False)
        field_expr = pl.when(hit).then(pl.lit(column)).otherwise(field_expr)
        reason_expr = pl.when(hit).then(reason).otherwise(reason_expr)
    return field_expr, reason_expr


def validate_file(
    path: Path,
    kind: FileKind,
    client_id: str,
    today: dt.date,
    known_items: Callable[[], pl.Series] | None = None,
    source: str | None = None,
    text: pl.DataFrame | None = None,
    extra_checks: list[tuple[str, pl.Expr, pl.Expr]] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Validate one file: (accepted typed rows, rejected rows, rows read).

    ``source`` is the file name recorded with each row (relative to the landing folder, so no
    host paths leak into tables a client can read). ``text`` is the file already read as text,
    ``extra_checks`` are checked before the per-column ones.
    """
    text = _read_as_text(path) if text is None else text
    rows_in = text.height
    present = set(text.columns) & set(kind.columns)
    frame = text.with_row_index("source_row", offset=1).with_columns(pl.col("source_row").cast(pl.Int64))
    record = pl.struct([c for c in text.columns]).struct.json_encode() if text.columns else pl.lit("{}")
    frame = frame.with_columns(record.alias("__record"))
    frame = frame.with_columns(pl.col(c).alias(f"__raw_{c}") for c in present)
    frame = frame.with_columns(_parse(c, kind.columns[c]).alias(c) for c in present)
    checks = [*(extra_checks or []), *_reason_exprs(kind, present, today)]
    if kind.needs_known_item and known_items is not None and "item_id" in present:
        items = known_items()
        checks.append(
            (
                "item_id",
                ~pl.col("item_id").is_in(items.implode()),
                pl.format("unknown item_id '{}'", pl.col("item_id")),
            )
        )
    field_expr, reason_expr = _first_failure(checks)
    frame = frame.with_columns(field_expr.alias("__field"), reason_expr.alias("__reason"))
    source = source or str(path)
    rejects = frame.filter(pl.col("__reason").is_not_null()).select(
        pl.lit(client_id).alias("client_id"),
        pl.lit(kind.name).alias("kind"),
        pl.lit(source).alias("source_file"),
        "source_row",
        pl.col("__field").alias("field"),
        pl.col("__reason").alias("reason"),
        pl.col("__record").alias("record"),
    )
    accepted = frame.filter(pl.col("__reason").is_null()).select(
        pl.lit(client_id).alias("client_id"),
        *[
            (pl.col(c) if c in present else pl.lit(None, dtype=dtype)).alias(c)
            for c, dtype in kind.columns.items()
        ],
        pl.lit(source).alias("source_file"),
        "source_row",
    )
    return accepted, rejects, rows_in


def _reject_duplicates(kind: FileKind, accepted: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Keep the first row of each natural key (in file order); later ones are rejected, pointing back."""
    if not kind.key or accepted.is_empty():
        return accepted, pl.DataFrame(schema=REJECT_SCHEMA)
    ranked = accepted.with_columns(
        pl.int_range(pl.len()).over(list(kind.key)).alias("__dup"),
        pl.col("source_file").first().over(list(kind.key)).alias("__first_file"),
        pl.col("source_row").first().over(list(kind.key)).alias("__first_row"),
    )
    dupes = ranked.filter(pl.col("__dup") > 0)
    key_desc = ", ".join(kind.key)
    rejects = dupes.select(
        "client_id",
        pl.lit(kind.name).alias("kind"),
        "source_file",
        "source_row",
        pl.lit(key_desc).alias("field"),
        pl.format("duplicate ({}) of {} row {}", pl.lit(key_desc), "__first_file", "__first_row").alias(
            "reason"
        ),
        pl.struct([c for c in kind.columns]).struct.json_encode().alias("record"),
    )
    return ranked.filter(pl.col("__dup") == 0).drop("__dup", "__first_file", "__first_row"), rejects


def ingest_client(landing_dir: Path, client_id: str, today: dt.date | None = None) -> IngestResult:
    """Read and validate every landing file of one client.

    Products are validated first so that sales, promotions and stock levels for items the client
    never described are rejected rather than forecast blindly.
    """
    folder = client_landing_dir(landing_dir, client_id)
    if not folder.is_dir():
        raise LandingError(f"no landing folder for client '{client_id}' at {folder}")
    today = today or dt.date.today()
    accepted: dict[str, pl.DataFrame] = {}
    rejects: list[pl.DataFrame] = []
    rows_in: dict[str, int] = {}
    for kind in FILE_KINDS:
        parts, kind_rejects, count = [], [], 0
        known = (lambda: accepted["products"]["item_id"]) if kind.needs_known_item else None
        for path in find_files(folder, kind.name):
            source = f"{client_id}/{path.relative_to(folder).as_posix()}"
            good, bad, n = validate_file(path, kind, client_id, today, known, source)
            parts.append(good)
            kind_rejects.append(bad)
            count += n
        empty = pl.DataFrame(
            schema={"client_id": pl.Utf8, **kind.columns, "source_file": pl.Utf8, "source_row": pl.Int64}
        )
        frame = pl.concat([empty, *parts], how="vertical_relaxed") if parts else empty
        frame, dupes = _reject_duplicates(kind, frame)
        accepted[kind.name] = frame
        rejects.extend([*kind_rejects, dupes])
        rows_in[kind.name] = count
    accepted[EVENTS], event_rejects, rows_in[EVENTS] = _ingest_events(folder, client_id, today)
    rejects.extend(event_rejects)
    all_rejects = pl.concat(
        [pl.DataFrame(schema=REJECT_SCHEMA), *[r.cast(REJECT_SCHEMA) for r in rejects]], how="vertical"
    )
    return IngestResult(client_id=client_id, accepted=accepted, rejects=all_rejects, rows_in=rows_in)


def events_kind(columns: list[str]) -> FileKind:
    """The kind of one events file: its date plus whatever numeric columns it has."""
    return FileKind(
        name=EVENTS,
        required={"date": pl.Date},
        optional={c: pl.Float64 for c in columns if c != "date"},
        key=("date",),
        needs_known_item=False,
    )


def _ingest_events(folder: Path, client_id: str, today: dt.date) -> tuple[pl.DataFrame, list, int]:
    """Validate every events file; accepted values come back long (date, event, value).

    An empty cell means "no event that day" and is stored as 0. A column whose name is not a
    plain identifier rejects every row of its file (it would become a model input column name).
    Later rows for a date already seen are rejected as duplicates, as for the other kinds.
    """
    parts, rejects, count = [], [], 0
    for path in find_files(folder, EVENTS):
        source = f"{client_id}/{path.relative_to(folder).as_posix()}"
        text = _read_as_text(path)
        columns = [c for c in text.columns if c != "date"]
        bad_names = [
            (c, pl.lit(True), pl.lit(f"column name '{c}' must be lower-case letters, digits and _"))
            for c in columns
            if not EVENT_NAME.fullmatch(c)
        ]
        if not columns:
            bad_names.append(("date", pl.lit(True), pl.lit("events file has no event columns besides date")))
        good, bad, n = validate_file(
            path, events_kind(columns), client_id, today, None, source, text=text, extra_checks=bad_names
        )
        rejects.append(bad)
        count += n
        if good.height and columns:
            parts.append(
                good.unpivot(
                    on=columns,
                    index=["client_id", "date", "source_file", "source_row"],
                    variable_name="event",
                    value_name="value",
                ).with_columns(pl.col("value").fill_null(0.0))
            )
    long = pl.concat(
        [
            pl.DataFrame(schema=EVENTS_SCHEMA),
            *[p.select(list(EVENTS_SCHEMA)).cast(EVENTS_SCHEMA) for p in parts],
        ]
    )
    # One value per (date, event): the first delivered wins, later rows are rejected.
    ranked = long.with_columns(
        pl.int_range(pl.len()).over(["date", "event"]).alias("__dup"),
        pl.col("source_file").first().over(["date", "event"]).alias("__first_file"),
        pl.col("source_row").first().over(["date", "event"]).alias("__first_row"),
    )
    dupes = (
        ranked.filter(pl.col("__dup") > 0)
        .group_by("source_file", "source_row", maintain_order=True)
        .agg(
            pl.col("__first_file").first(),
            pl.col("__first_row").first(),
            pl.col("date").first(),
        )
    )
    rejects.append(
        dupes.select(
            pl.lit(client_id).alias("client_id"),
            pl.lit(EVENTS).alias("kind"),
            "source_file",
            "source_row",
            pl.lit("date").alias("field"),
            pl.format("duplicate date {} of {} row {}", "date", "__first_file", "__first_row").alias(
                "reason"
            ),
            pl.struct(pl.col("date").cast(pl.Utf8)).struct.json_encode().alias("record"),
        )
    )
    dup_rows = dupes.select("source_file", "source_row")
    accepted = long.join(dup_rows, on=["source_file", "source_row"], how="anti")
    return accepted, rejects, count


def events_wide(events: pl.DataFrame | None) -> pd.DataFrame | None:
    """Accepted event rows as one column per event (``event_<name>``), one row per date."""
    if events is None or events.height == 0:
        return None
    wide = events.pivot(on="event", index="date", values="value", aggregate_function="first")
    frame = wide.to_pandas()
    frame["date"] = pd.to_datetime(frame["date"])
    return frame.rename(columns={c: f"event_{c}" for c in frame.columns if c != "date"})


def describe_rejects(rejects: pl.DataFrame, limit: int = 5) -> list[str]:
    """Human-readable lines 'file row N field: reason' for logs and metadata."""
    return [
        f"{r['source_file']} row {r['source_row']} field '{r['field']}': {r['reason']}"
        for r in rejects.head(limit).iter_rows(named=True)
    ]
