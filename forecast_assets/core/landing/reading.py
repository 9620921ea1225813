"""Reading one landing file: its header checked as a whole, its rows in bounded batches of text.

Two classes of defect are kept apart here. What makes a file unusable as a whole (unreadable, empty,
not comma-separated, a column named twice or with a name ingestion reserves, a nested Parquet
type, too large) raises :class:`DeliveryError` naming the file: ingestion stops before anything is
written, so the client's previous rows stay. What spoils one row only (a ragged row from an
unquoted comma, bytes that are not UTF-8, a line the CSV parser cannot take) rejects that row,
with its 1-based data row number, and the rest of the file is read.

Rows come back as batches of text columns (``source_row`` added) of at most ``batch_rows`` rows,
so memory is bounded by the batch whatever the file's size. CSV goes through the standard
library's reader, line by line, because it reports each record on its own: a columnar reader
fails or silently truncates the whole file on one ragged row.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

# Columns ingestion adds to every stored row: a delivery may not bring its own.
RESERVED_COLUMNS = frozenset({"client_id", "source_file", "source_row"})
BOM = b"\xef\xbb\xbf"
_HEADER_BYTES = 1 << 20
_OTHER_DELIMITERS = (";", "\t", "|")


class LandingError(ValueError):
    """A landing folder that cannot be read at all (no folder for the client)."""


class DeliveryError(LandingError):
    """A file-level defect: the delivery is refused as a whole and nothing of it is written."""


@dataclass
class TextBatch:
    """Rows of one file as text (``source_row`` first), and the rows rejected while reading."""

    frame: pl.DataFrame
    # (source_row, field, reason, record as JSON) of rows that never became a frame row.
    rejects: list[tuple[int, str, str, str]] = field(default_factory=list)

    @property
    def rows_in(self) -> int:
        return self.frame.height + len(self.rejects)


def normalize(name: str) -> str:
    return name.strip().lower()


def header_problems(names: list[str], required: list[str]) -> list[str]:
    """What is wrong with a file's column names, as a whole (empty when nothing is)."""
    problems = []
    dupes = sorted(n for n, count in Counter(names).items() if count > 1)
    if dupes:
        problems.append(f"column names appear more than once: {', '.join(repr(d) for d in dupes)}")
    if "" in names:
        problems.append(f"column {names.index('') + 1} has no name")
    reserved = sorted(RESERVED_COLUMNS & set(names))
    if reserved:
        problems.append(
            f"column names reserved for lineage: {', '.join(repr(r) for r in reserved)} (rename them)"
        )
    missing = [c for c in required if c not in names]
    if missing:
        problems.append(f"required columns missing: {', '.join(repr(m) for m in missing)}")
    return problems


def _csv_header(path: Path, source: str) -> list[str]:
    with path.open("rb") as handle:
        first = handle.readline(_HEADER_BYTES)
    first = first.removeprefix(BOM)
    if not first.strip():
        raise DeliveryError(f"{source}: the file is empty (no header row)")
    try:
        line = first.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DeliveryError(f"{source}: the header row is not UTF-8 text ({exc.reason})") from exc
    for delimiter in _OTHER_DELIMITERS:
        if line.count(delimiter) > line.count(","):
            shown = "tab" if delimiter == "\t" else f"'{delimiter}'"
            raise DeliveryError(
                f"{source}: columns are separated by {shown}, not ','; save the file as comma-separated CSV"
            )
    return [normalize(n) for n in next(csv.reader([line]))]


def _parquet_file(path: Path, source: str) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise DeliveryError(f"{source}: cannot be read as Parquet ({exc})") from exc


def read_header(path: Path, source: str) -> list[str]:
    """The file's column names (stripped, lower-case), without reading its rows."""
    if path.suffix.lower() == ".csv":
        return _csv_header(path, source)
    schema = _parquet_file(path, source).schema_arrow
    nested = [f.name for f in schema if pa.types.is_nested(f.type) or pa.types.is_binary(f.type)]
    if nested:
        raise DeliveryError(f"{source}: Parquet columns of a type that is not a value: {', '.join(nested)}")
    return [normalize(n) for n in schema.names]


def check_size(path: Path, source: str, max_file_mb: float) -> None:
    size_mb = path.stat().st_size / 2**20
    if size_mb > max_file_mb:
        raise DeliveryError(
            f"{source}: {size_mb:,.0f} MB is over the limit of {max_file_mb:,.0f} MB per file "
            "(setting LANDING_MAX_FILE_MB); split it into several files of that kind"
        )


def _text_frame(names: list[str], rows: list[list[str]], first_row: list[int]) -> pl.DataFrame:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    data = {"source_row": pl.Series(first_row, dtype=pl.Int64)}
    data |= {n: pl.Series(n, list(c), dtype=pl.Utf8) for n, c in zip(names, columns, strict=True)}
    return pl.DataFrame(data)


def _shown(value: str) -> str:
    """A cell that is not valid UTF-8, with its bad bytes written as escapes (``\\xe9``)."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _undecodable_field(names: list[str], fields: list[str]) -> str:
    for i, value in enumerate(fields):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return names[i] if i < len(names) else "row"
    return "row"


def _csv_batches(path: Path, names: list[str], batch_rows: int) -> Iterator[TextBatch]:
    bad_bytes = [False]  # set by the line source when the record being read had undecodable bytes

    with path.open("rb") as handle:

        def lines() -> Iterator[str]:
            for number, raw in enumerate(handle):
                if number == 0:
                    raw = raw.removeprefix(BOM)
                try:
                    yield raw.decode("utf-8")
                except UnicodeDecodeError:
                    bad_bytes[0] = True
                    yield raw.decode("utf-8", "surrogateescape")

        reader = csv.reader(lines())
        next(reader)  # the header, checked by read_header
        rows: list[list[str]] = []
        numbers: list[int] = []
        batch = TextBatch(pl.DataFrame())
        row = 0
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                row += 1
                batch.rejects.append((row, "row", f"cannot be parsed as CSV: {exc}", "null"))
                bad_bytes[0] = False
                continue
            if not fields:  # a blank line is not a row
                continue
            row += 1
            if bad_bytes[0]:
                bad_bytes[0] = False
                record = json.dumps([_shown(v) for v in fields], ensure_ascii=False)
                reason = "not valid UTF-8 text (save the file as UTF-8)"
                batch.rejects.append((row, _undecodable_field(names, fields), reason, record))
            elif len(fields) != len(names):
                reason = f"has {len(fields)} fields, the header has {len(names)} (an unquoted comma?)"
                batch.rejects.append((row, "row", reason, json.dumps(fields, ensure_ascii=False)))
            else:
                rows.append(fields)
                numbers.append(row)
            if len(rows) + len(batch.rejects) >= batch_rows:
                batch.frame = _text_frame(names, rows, numbers)
                yield batch
                rows, numbers, batch = [], [], TextBatch(pl.DataFrame())
        batch.frame = _text_frame(names, rows, numbers)
        yield batch


def _parquet_batches(path: Path, source: str, names: list[str], batch_rows: int) -> Iterator[TextBatch]:
    row = 0
    try:
        for record_batch in _parquet_file(path, source).iter_batches(batch_size=batch_rows):
            frame = pl.from_arrow(record_batch)
            assert isinstance(frame, pl.DataFrame)
            frame.columns = names
            frame = frame.with_columns(pl.all().cast(pl.Utf8)).with_row_index("source_row", offset=row + 1)
            row += frame.height
            yield TextBatch(frame.with_columns(pl.col("source_row").cast(pl.Int64)))
    except (pa.ArrowException, OSError, pl.exceptions.PolarsError) as exc:
        raise DeliveryError(f"{source}: cannot be read as Parquet ({exc})") from exc


def text_batches(path: Path, source: str, names: list[str], batch_rows: int) -> Iterator[TextBatch]:
    """The rows of a file whose header ``names`` came from :func:`read_header`, batch by batch."""
    if path.suffix.lower() == ".csv":
        return _csv_batches(path, names, batch_rows)
    return _parquet_batches(path, source, names, batch_rows)
