"""The landing format and its validation: every input row is accepted or rejected with a reason.

A client delivers files under ``landing/<client>/``. Each kind of file (sales, products, promotions,
stock_levels, and the optional events) may arrive as CSV or Parquet, as ``<kind>.csv``,
``<kind>_anything.parquet`` or inside a ``<kind>/`` folder. Values are read as text first and
parsed here, so that a bad cell rejects its row (naming file, row and field) instead of failing the
whole file or being coerced silently.

A defect of a whole file (see :mod:`.reading`: unreadable, not comma-separated, a required column
or file missing, no data rows in sales or products, a symbolic link) refuses the whole delivery
with :class:`DeliveryError` before anything is written, so a bad export never replaces a client's
data with nothing. Files are validated in batches and the rows spooled to Parquet, so memory is
bounded by the batch (and the product catalogue) whatever the delivery's size.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow.parquet as pq

from forecast_assets.core.clients import validate_client_key
from forecast_assets.core.landing.reading import (
    DeliveryError,
    LandingError,
    check_size,
    header_problems,
    read_header,
    text_batches,
)

__all__ = ["DeliveryError", "LandingError"]

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
        "price": pl.Float64,
    },
    # Inventory inputs: an item without them is still forecast; the inventory mart names what is missing.
    optional={
        "unit_cost": pl.Float64,
        "lead_time_days": pl.Float64,
        "lead_time_std_days": pl.Float64,
        "moq": pl.Float64,
        "pack_size": pl.Float64,
    },
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
KINDS = {kind.name: kind for kind in FILE_KINDS}
# Without these a delivery cannot be forecast: a missing file, or one with no data rows, refuses it.
REQUIRED_KINDS: tuple[str, ...] = ("sales", "products")
# C0 controls except tab, line feed and carriage return, and DEL: a NUL breaks Postgres COPY.
CONTROL_CHARACTERS = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]"

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
SPOOLED_REJECT_SCHEMA = {k: v for k, v in REJECT_SCHEMA.items() if k != "client_id"}


@dataclass(frozen=True)
class LandingLimits:
    """How strict a delivery is read: settings LANDING_MAX_FILE_MB and EARLIEST_DATE.

    ``batch_rows`` bounds the rows held in memory at once while a file is validated.
    """

    max_file_mb: float = 2048.0
    earliest_date: dt.date = dt.date(2000, 1, 1)
    batch_rows: int = 200_000


@dataclass
class IngestResult:
    """A validated delivery: accepted rows per kind and rejected rows, spooled to Parquet files.

    The files hold no ``client_id`` (the warehouse adds the client's key when it reads them), so a
    large delivery is never held in memory; :attr:`accepted` and :attr:`rejects` load them for
    small deliveries and tests. The spool directory lives as long as this object when ingestion
    created it.
    """

    client_id: str
    files: dict[str, list[Path]]
    reject_files: list[Path]
    rows_in: dict[str, int]
    accepted_rows: dict[str, int]
    rejected_rows: dict[str, int]
    _spool: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

    def counts(self, kind: str) -> dict[str, int]:
        return {
            "rows_in": self.rows_in[kind],
            "accepted": self.accepted_rows[kind],
            "rejected": self.rejected_rows[kind],
        }

    def frame(self, kind: str) -> pl.DataFrame:
        """Accepted rows of one kind with ``client_id``, in file and row order."""
        schema = EVENTS_SCHEMA if kind == EVENTS else _accepted_schema(KINDS[kind])
        empty = pl.DataFrame(schema=schema)
        if not self.files[kind]:
            return empty
        rows = pl.read_parquet(self.files[kind]).with_columns(pl.lit(self.client_id).alias("client_id"))
        return pl.concat([empty, rows.select(list(schema))], how="vertical_relaxed").sort(
            "source_file", "source_row", maintain_order=True
        )

    @property
    def accepted(self) -> dict[str, pl.DataFrame]:
        return {kind: self.frame(kind) for kind in ALL_KINDS}

    def reject_sample(self, kind: str | None = None, limit: int | None = None) -> pl.DataFrame:
        """Rejected rows (of one kind, or all), the first ``limit`` only, read lazily."""
        empty = pl.DataFrame(schema=REJECT_SCHEMA)
        if not self.reject_files:
            return empty
        lazy = pl.scan_parquet(self.reject_files).with_columns(pl.lit(self.client_id).alias("client_id"))
        if kind is not None:
            lazy = lazy.filter(pl.col("kind") == kind)
        if limit is not None:
            lazy = lazy.head(limit)
        return pl.concat([empty, lazy.select(list(REJECT_SCHEMA)).collect()], how="vertical_relaxed")

    def sales_date_span(self) -> pl.Series:
        """The first and last accepted sales dates (empty without sales), read from the spool."""
        if not self.files[SALES.name]:
            return pl.Series("date", [], dtype=pl.Date)
        span = pl.scan_parquet(self.files[SALES.name]).select(
            pl.col("date").min().alias("first"), pl.col("date").max().alias("last")
        )
        return pl.Series("date", span.collect().row(0), dtype=pl.Date)

    @property
    def rejects(self) -> pl.DataFrame:
        return self.reject_sample().sort("source_file", "source_row", maintain_order=True)


def client_landing_dir(landing_dir: Path, client_id: str) -> Path:
    """The folder of one client; the key is validated before it becomes a path segment."""
    return Path(landing_dir) / validate_client_key(client_id)


def find_files(folder: Path, kind: str) -> list[Path]:
    """Files of one kind in a client folder, sorted so that row order is reproducible."""
    candidates = list(folder.glob(f"{kind}.*")) + list(folder.glob(f"{kind}_*.*"))
    if (folder / kind).is_dir():
        candidates += list((folder / kind).glob("*.*"))
    return sorted(p for p in candidates if p.suffix.lower() in {".csv", ".parquet"})


def symlink_problems(folder: Path, kind: str, files: list[Path]) -> list[str]:
    """Symbolic links among a kind's landing paths: refused, since one could point into another
    client's folder (or anywhere on the host) and make its rows this client's."""
    client = folder.name
    problems = []
    if (folder / kind).is_symlink():
        problems.append(f"{client}/{kind}/: the {kind} folder is a symbolic link; links are refused")
    for path in files:
        if path.is_symlink():
            rel = path.relative_to(folder).as_posix()
            problems.append(f"{client}/{rel}: is a symbolic link; landing files must be regular files")
        elif not path.is_file():
            problems.append(f"{client}/{path.relative_to(folder).as_posix()}: is not a regular file")
    return problems


@dataclass(frozen=True)
class PlannedFile:
    """A landing file that passed the file-level checks: its path, recorded name and columns."""

    path: Path
    source: str
    names: list[str]


def plan_delivery(folder: Path, client_id: str, limits: LandingLimits) -> dict[str, list[PlannedFile]]:
    """Every landing file of the client, after the file-level checks of all of them.

    Raises :class:`DeliveryError` listing every file-level problem found, so one failed run tells
    the client all that is wrong with the delivery.
    """
    problems: list[str] = []
    if folder.is_symlink():
        problems.append(f"{client_id}/: the client's landing folder is a symbolic link; links are refused")
    plan: dict[str, list[PlannedFile]] = {}
    for kind in ALL_KINDS:
        files = sorted(find_files(folder, kind), key=lambda p: p.relative_to(folder).as_posix())
        links = symlink_problems(folder, kind, files)
        problems += links
        plan[kind] = []
        if not files and kind in REQUIRED_KINDS:
            problems.append(f"{client_id}/: no {kind} file ({kind}.csv, {kind}_<name>.parquet or {kind}/)")
        for path in files if not links else []:
            source = f"{client_id}/{path.relative_to(folder).as_posix()}"
            try:
                check_size(path, source, limits.max_file_mb)
                names = read_header(path, source)
            except DeliveryError as exc:
                problems.append(str(exc))
                continue
            required = list(KINDS[kind].required) if kind in KINDS else ["date"]
            problems += [f"{source}: {p}" for p in header_problems(names, required)]
            plan[kind].append(PlannedFile(path, source, names))
    if problems:
        raise DeliveryError(refusal(client_id, problems))
    return plan


def refusal(client_id: str, problems: list[str]) -> str:
    """One message for a refused delivery: every problem, and that nothing was replaced."""
    lines = "\n".join(f"- {p}" for p in problems)
    return f"delivery of client '{client_id}' refused; its previous data is kept unchanged:\n{lines}"


def _parse(column: str, dtype: pl.DataType) -> pl.Expr:
    text = pl.col(column)
    if dtype == pl.Date:
        # Exactly YYYY-MM-DD: a parser given a longer text reads its prefix ("2025-01-05garbage").
        exact = text.str.contains(r"^\d{4}-\d{2}-\d{2}$")
        return pl.when(exact).then(text.str.to_date("%Y-%m-%d", strict=False))
    if dtype == pl.Float64:
        return text.cast(pl.Float64, strict=False)
    return text


def _reason_exprs(
    kind: FileKind, present: set[str], today: dt.date, earliest: dt.date
) -> list[tuple[str, pl.Expr, pl.Expr]]:
    """(field, condition-for-rejection, reason-text) in the order they are checked."""
    checks: list[tuple[str, pl.Expr, pl.Expr]] = []
    for column in kind.columns:
        if column in present:
            control = pl.col(f"__raw_{column}").str.contains(CONTROL_CHARACTERS)
            checks.append((column, control, pl.lit("contains a control character (such as NUL)")))
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
            not_finite = pl.col(column).is_nan() | pl.col(column).is_infinite()
            checks.append((column, not_finite, pl.lit("not a finite number")))
        if dtype == pl.Date:
            too_early = pl.col(column) < pl.lit(earliest)
            reason = f"dated before {earliest.isoformat()}, the earliest date accepted (EARLIEST_DATE)"
            checks.append((column, too_early, pl.lit(reason)))
    for column in kind.non_negative:
        if column in present:
            checks.append((column, pl.col(column) < 0, pl.format("negative value {}", pl.col(column))))
    if kind is SALES and "date" in present:
        future = pl.col("date") > pl.lit(today)
        checks.append(("date", future, pl.lit(f"dated in the future (after {today.isoformat()})")))
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


def _accepted_schema(kind: FileKind) -> dict[str, pl.DataType]:
    return {"client_id": pl.Utf8, **kind.columns, "source_file": pl.Utf8, "source_row": pl.Int64}


def validate_batch(
    text: pl.DataFrame,
    kind: FileKind,
    source: str,
    today: dt.date,
    earliest: dt.date,
    known_items: pl.Series | None = None,
    extra_checks: list[tuple[str, pl.Expr, pl.Expr]] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Validate one batch of text rows (with ``source_row``): (accepted typed rows, rejected rows).

    Neither frame has ``client_id``. ``source`` is the file name recorded with each row (relative
    to the landing folder, so no host paths leak into tables a client can read). A rejected row
    keeps its cells as JSON; accepted rows are only typed.
    """
    cells = [c for c in text.columns if c != "source_row"]
    text = text.with_columns(pl.col(cells).str.strip_chars().replace("", None)) if cells else text
    present = set(cells) & set(kind.columns)
    frame = text.with_columns(pl.col(c).alias(f"__raw_{c}") for c in present)
    frame = frame.with_columns(_parse(c, kind.columns[c]).alias(c) for c in present)
    checks = [*(extra_checks or []), *_reason_exprs(kind, present, today, earliest)]
    if kind.needs_known_item and known_items is not None and "item_id" in present:
        unknown = ~pl.col("item_id").is_in(known_items.implode())
        checks.append(("item_id", unknown, pl.format("unknown item_id '{}'", pl.col("item_id"))))
    field_expr, reason_expr = _first_failure(checks)
    frame = frame.with_columns(field_expr.alias("__field"), reason_expr.alias("__reason"))
    bad = frame.filter(pl.col("__reason").is_not_null())
    record = pl.struct([pl.col(f"__raw_{c}").alias(c) if c in present else pl.col(c) for c in cells])
    rejects = bad.select(
        pl.lit(kind.name).alias("kind"),
        pl.lit(source).alias("source_file"),
        "source_row",
        pl.col("__field").alias("field"),
        pl.col("__reason").alias("reason"),
        (record.struct.json_encode() if cells else pl.lit("{}")).alias("record"),
    )
    accepted = frame.filter(pl.col("__reason").is_null()).select(
        *[
            (pl.col(c) if c in present else pl.lit(None)).cast(dtype).alias(c)
            for c, dtype in kind.columns.items()
        ],
        pl.lit(source).alias("source_file"),
        "source_row",
    )
    return accepted, rejects


def _read_rejects(kind: str, source: str, rejects: list[tuple[int, str, str, str]]) -> pl.DataFrame:
    """Rows rejected while reading (ragged, not UTF-8) as reject rows."""
    rows, fields, reasons, records = zip(*rejects, strict=True) if rejects else ((), (), (), ())
    return pl.DataFrame(
        {
            "kind": [kind] * len(rows),
            "source_file": [source] * len(rows),
            "source_row": list(rows),
            "field": list(fields),
            "reason": list(reasons),
            "record": list(records),
        },
        schema=SPOOLED_REJECT_SCHEMA,
    )


class _Spool:
    """Accepted and rejected rows written batch by batch to Parquet part files under ``root``."""

    def __init__(self, root: Path):
        self.root = root
        self.parts: dict[str, list[Path]] = {kind: [] for kind in ALL_KINDS}
        self.reject_parts: list[Path] = []
        self.rejected: dict[str, int] = dict.fromkeys(ALL_KINDS, 0)
        self._n = 0

    def _write(self, name: str, frame: pl.DataFrame) -> Path:
        self._n += 1
        path = self.root / f"{name}-{self._n:06d}.parquet"
        frame.write_parquet(path)
        return path

    def accept(self, kind: str, frame: pl.DataFrame) -> None:
        if frame.height:
            self.parts[kind].append(self._write(kind, frame))

    def reject(self, kind: str, frame: pl.DataFrame) -> None:
        if frame.height:
            self.reject_parts.append(self._write("rejects", frame.cast(SPOOLED_REJECT_SCHEMA)))
            self.rejected[kind] += frame.height


def _sql_files(files: list[Path]) -> str:
    return "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"


def _drop_duplicates(kind: FileKind, spool: _Spool) -> None:
    """Keep the first row of each natural key (in file and row order); later ones are rejected,
    pointing back. DuckDB does it over the spooled parts within a memory limit (spilling to disk
    past it), so a delivery of any size is checked without being held in memory."""
    parts = spool.parts[kind.name]
    if not kind.key or not parts:
        return
    keys = ", ".join(f'"{k}"' for k in kind.key)
    source, desc = f"read_parquet({_sql_files(parts)})", ", ".join(kind.key)
    config = {"memory_limit": "512MB", "threads": 2, "temp_directory": str(spool.root / "duckdb_tmp")}
    with duckdb.connect(config=config) as con:
        con.execute(
            f"create temp table dup_keys as select {keys} from {source} group by all having count(*) > 1"
        )
        if not con.execute("select count(*) from dup_keys").fetchone()[0]:  # type: ignore[index]
            return
        con.execute(
            f"create temp table dup_rows as select s.*, row_number() over "
            f"(partition by {', '.join(f's.{k}' for k in kind.key)} order by s.source_file, s.source_row) "
            f"as rn from {source} s join dup_keys using ({keys})"
        )
        record = ", ".join(f'"{c}" := d."{c}"' for c in kind.columns)
        rejects = con.sql(
            f"select '{kind.name}' as kind, d.source_file, d.source_row, ? as field, "
            f"'duplicate (' || ? || ') of ' || f.source_file || ' row ' || f.source_row as reason, "
            f"to_json(struct_pack({record}))::varchar as record "
            f"from dup_rows d join dup_rows f using ({keys}) where d.rn > 1 and f.rn = 1",
            params=[desc, desc],
        ).to_arrow_table()
        out = spool.root / f"{kind.name}-deduplicated"
        con.execute(
            f"copy (select s.* from {source} s anti join (select source_file, source_row from dup_rows "
            f"where rn > 1) d using (source_file, source_row)) to '{out}' "
            "(format parquet, file_size_bytes '64MB')"
        )
    spool.reject(kind.name, pl.DataFrame(pl.from_arrow(rejects)))
    spool.parts[kind.name] = sorted(out.glob("*.parquet"))


def _validate_files(
    files: list[PlannedFile],
    kind: FileKind,
    spool: _Spool,
    today: dt.date,
    limits: LandingLimits,
    known_items: pl.Series | None,
) -> int:
    """Validate every file of one kind batch by batch into the spool; returns the rows read."""
    count = 0
    for planned in files:
        rows_in = 0
        for batch in text_batches(planned.path, planned.source, planned.names, limits.batch_rows):
            rows_in += batch.rows_in
            spool.reject(kind.name, _read_rejects(kind.name, planned.source, batch.rejects))
            good, bad = validate_batch(
                batch.frame, kind, planned.source, today, limits.earliest_date, known_items
            )
            spool.accept(kind.name, good)
            spool.reject(kind.name, bad)
        if rows_in == 0 and kind.name in REQUIRED_KINDS:
            raise DeliveryError(
                refusal(planned.source.split("/", 1)[0], [f"{planned.source}: no data rows, only a header"])
            )
        count += rows_in
    return count


def _spooled_rows(files: list[Path]) -> int:
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def ingest_client(
    landing_dir: Path,
    client_id: str,
    today: dt.date | None = None,
    limits: LandingLimits | None = None,
    spool_dir: Path | None = None,
) -> IngestResult:
    """Read and validate every landing file of one client into spooled accepted and rejected rows.

    File-level checks of every file come first (:func:`plan_delivery`): a delivery with any
    file-level defect raises :class:`DeliveryError` before a row is read. Products are validated
    before the other kinds so that rows for items the client never described are rejected rather
    than forecast blindly. Rows go to Parquet files under ``spool_dir`` (a temporary directory
    kept alive by the result when not given).
    """
    folder = client_landing_dir(landing_dir, client_id)
    if not folder.is_dir():
        raise LandingError(f"no landing folder for client '{client_id}' at {folder}")
    today = today or dt.date.today()
    limits = limits or LandingLimits()
    plan = plan_delivery(folder, client_id, limits)
    temporary = None if spool_dir else tempfile.TemporaryDirectory(prefix="landing-spool-")
    spool = _Spool(Path(spool_dir or temporary.name))  # type: ignore[union-attr]
    rows_in: dict[str, int] = {}
    items: pl.Series | None = None
    for kind in FILE_KINDS:
        known = items if kind.needs_known_item else None
        if kind.needs_known_item and known is None:
            known = pl.Series("item_id", [], dtype=pl.Utf8)
        rows_in[kind.name] = _validate_files(plan[kind.name], kind, spool, today, limits, known)
        _drop_duplicates(kind, spool)
        if kind is PRODUCTS:
            parts = spool.parts[PRODUCTS.name]
            items = pl.read_parquet(parts, columns=["item_id"])["item_id"] if parts else None
    rows_in[EVENTS], accepted_events = _ingest_events(plan[EVENTS], client_id, spool, today, limits)
    accepted_rows = {kind.name: _spooled_rows(spool.parts[kind.name]) for kind in FILE_KINDS}
    accepted_rows[EVENTS] = accepted_events
    return IngestResult(
        client_id=client_id,
        files=spool.parts,
        reject_files=spool.reject_parts,
        rows_in=rows_in,
        accepted_rows=accepted_rows,
        rejected_rows=spool.rejected,
        _spool=temporary,
    )


def shrink_problem(accepted_sales: int, previous_sales: int | None, min_share: float) -> str | None:
    """Why a delivery looks like it would silently shrink the client (None when it does not).

    A delivery accepting no sales row at all would empty the client's history; one accepting fewer
    than ``min_share`` of the previous delivery's sales rows is more often a partial export than a
    smaller business. Either needs the run told to accept it.
    """
    if accepted_sales == 0:
        return "no sales row was accepted: the delivery would remove the client's whole sales history"
    if previous_sales and accepted_sales < min_share * previous_sales:
        share = accepted_sales / previous_sales
        return (
            f"{accepted_sales:,} sales rows accepted, {share:.0%} of the {previous_sales:,} now stored "
            f"(below DELIVERY_MIN_SHARE = {min_share:g}): a partial export?"
        )
    return None


def events_kind(columns: list[str]) -> FileKind:
    """The kind of one events file: its date plus whatever numeric columns it has."""
    return FileKind(
        name=EVENTS,
        required={"date": pl.Date},
        optional={c: pl.Float64 for c in columns if c != "date"},
        key=("date",),
        needs_known_item=False,
    )


def _ingest_events(
    files: list[PlannedFile], client_id: str, spool: _Spool, today: dt.date, limits: LandingLimits
) -> tuple[int, int]:
    """Validate every events file; accepted values are spooled long (date, event, value).

    Returns (rows read, source rows accepted). An empty cell means "no event that day" and is
    stored as 0. A column whose name is not a plain identifier rejects every row of its file (it
    would become a model input column name). Later rows for a date already seen are rejected as
    duplicates, as for the other kinds. An events file holds a row per date, so the accepted
    rows are deduplicated in memory.
    """
    parts, count = [], 0
    for planned in files:
        columns = [c for c in planned.names if c != "date"]
        bad_names = [
            (c, pl.lit(True), pl.lit(f"column name '{c}' must be lower-case letters, digits and _"))
            for c in columns
            if not EVENT_NAME.fullmatch(c)
        ]
        if not columns:
            bad_names.append(("date", pl.lit(True), pl.lit("events file has no event columns besides date")))
        kind = events_kind(columns)
        for batch in text_batches(planned.path, planned.source, planned.names, limits.batch_rows):
            count += batch.rows_in
            spool.reject(EVENTS, _read_rejects(EVENTS, planned.source, batch.rejects))
            good, bad = validate_batch(
                batch.frame, kind, planned.source, today, limits.earliest_date, None, bad_names
            )
            spool.reject(EVENTS, bad)
            if good.height and columns:
                parts.append(
                    good.with_columns(pl.lit(client_id).alias("client_id"))
                    .unpivot(
                        on=columns,
                        index=["client_id", "date", "source_file", "source_row"],
                        variable_name="event",
                        value_name="value",
                    )
                    .with_columns(pl.col("value").fill_null(0.0))
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
        .agg(pl.col("__first_file").first(), pl.col("__first_row").first(), pl.col("date").first())
    )
    spool.reject(
        EVENTS,
        dupes.select(
            pl.lit(EVENTS).alias("kind"),
            "source_file",
            "source_row",
            pl.lit("date").alias("field"),
            pl.format("duplicate date {} of {} row {}", "date", "__first_file", "__first_row").alias(
                "reason"
            ),
            pl.struct(pl.col("date").cast(pl.Utf8)).struct.json_encode().alias("record"),
        ),
    )
    accepted = long.join(
        dupes.select("source_file", "source_row"), on=["source_file", "source_row"], how="anti"
    )
    spool.accept(EVENTS, accepted.drop("client_id"))
    return count, accepted.select("source_file", "source_row").unique().height


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
