"""The Postgres backend of the warehouse: the same contract as the DuckDB one, in Postgres terms.

Why it is separate: :class:`~forecast_assets.resources.warehouse.Warehouse` keeps one interface
(``?`` placeholders, polars frames, one transaction per client write) for every asset, and only
this module knows psycopg2's ``%s`` placeholders, Postgres type names and ``COPY``. Identifiers
are composed with :mod:`psycopg2.sql`, values always travel as parameters.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import polars as pl
import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from forecast_assets.urls import libpq_url

COPY_ROWS = 50_000  # rows per COPY batch: bounds the CSV buffer, whatever the frame's size

# Postgres type OIDs -> polars types of the frames reads return (numeric arrives as float).
_READ_TYPES: dict[int, pl.DataType] = {
    16: pl.Boolean,
    20: pl.Int64,
    21: pl.Int16,
    23: pl.Int32,
    19: pl.Utf8,
    25: pl.Utf8,
    1042: pl.Utf8,
    1043: pl.Utf8,
    700: pl.Float64,
    701: pl.Float64,
    1700: pl.Float64,
    1082: pl.Date,
    1114: pl.Datetime("us"),
    1184: pl.Datetime("us", "UTC"),
}
_NUMERIC_AS_FLOAT = psycopg2.extensions.new_type(
    (1700,), "NUMERIC_AS_FLOAT", lambda value, _cur: None if value is None else float(value)
)


def pg_type(dtype: pl.DataType) -> str:
    """The Postgres column type for a polars dtype (tables are created from frame schemas)."""
    base = dtype.base_type()
    if base in (pl.Utf8, pl.Categorical, pl.Enum, pl.Null):
        return "text"
    if base == pl.Datetime:
        return "timestamptz" if getattr(dtype, "time_zone", None) else "timestamp"
    simple = {
        pl.Float64: "double precision",
        pl.Float32: "real",
        pl.Int64: "bigint",
        pl.UInt32: "bigint",
        pl.UInt64: "numeric",
        pl.Int32: "integer",
        pl.UInt16: "integer",
        pl.Int16: "smallint",
        pl.Int8: "smallint",
        pl.UInt8: "smallint",
        pl.Boolean: "boolean",
        pl.Date: "date",
        pl.Time: "time",
        pl.Decimal: "numeric",
    }
    if base in simple:
        return simple[base]
    raise TypeError(f"no Postgres column type for polars {dtype}")


def to_pyformat(query: str) -> str:
    """``?`` placeholders to psycopg2's ``%s`` (and ``%`` to ``%%``), leaving quoted text alone.

    psycopg2 interpolates ``%`` everywhere once parameters are given, so a literal ``%`` (as in
    ``like 'chronos%'``) is doubled inside quotes too, while a ``?`` there stays a character.
    """
    out: list[str] = []
    quote = ""
    for ch in query:
        if ch == "%":
            out.append("%%")
        elif quote:
            out.append(ch)
            if ch == quote:
                quote = ""
        elif ch in ("'", '"'):
            quote = ch
            out.append(ch)
        else:
            out.append("%s" if ch == "?" else ch)
    return "".join(out)


def _param(value: object) -> object:
    """numpy scalars and pandas timestamps as the plain Python values psycopg2 adapts."""
    if isinstance(value, list | tuple):
        return [_param(v) for v in value]
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return value.item()
    return value


@contextmanager
def connect(url: str) -> Iterator[psycopg2.extensions.connection]:
    """A short-lived connection; the caller commits. Closed (rolling back anything open) on exit."""
    con = psycopg2.connect(libpq_url(url), connect_timeout=10, application_name="forecast-assets")
    psycopg2.extensions.register_type(_NUMERIC_AS_FLOAT, con)
    try:
        yield con
    finally:
        con.close()


def advisory_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``: the same in every process and
    Python version (``hash()`` is salted per process), and namespaced so our locks do not meet
    another application's on the same server."""
    digest = hashlib.blake2b(f"forecast-assets:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


_HELD = threading.local()  # advisory locks this thread holds: name -> depth


@contextmanager
def advisory_lock(url: str, name: str) -> Iterator[None]:
    """Hold the session-level advisory lock ``name`` for the duration of the block.

    The lock lives on a dedicated autocommit connection, so it spans any number of transactions
    on other connections, and a dbt subprocess, and is released when the block ends, or by the
    server when the process dies (the connection closes). Re-entrant within a thread: a block
    nested in another holding the same lock (a write inside a locked dbt step) does not wait for
    itself; other threads and processes do wait.
    """
    held = _HELD.__dict__.setdefault("names", {})
    if held.get((url, name)):
        held[(url, name)] += 1
        try:
            yield
        finally:
            held[(url, name)] -= 1
        return
    with connect(url) as con:
        con.autocommit = True
        key = advisory_key(name)
        with con.cursor() as cur:
            cur.execute("select pg_advisory_lock(%s)", [key])
        held[(url, name)] = 1
        try:
            yield
        finally:
            held.pop((url, name), None)
            try:
                with con.cursor() as cur:
                    cur.execute("select pg_advisory_unlock(%s)", [key])
            except psycopg2.Error:
                pass  # a broken connection: closing it (below) releases the lock all the same


def client_lock(url: str, client_id: str) -> AbstractContextManager[None]:
    """The lock of one client: every write of the client's rows (Python writes and its dbt
    builds) holds it, so two runs of one client never interleave, whatever started them, while
    runs of different clients never wait for each other."""
    return advisory_lock(url, f"client:{client_id}")


def execute(cur, query: str, params: Sequence[object] = ()) -> None:
    """Run a statement written with ``?`` placeholders."""
    cur.execute(to_pyformat(query), [_param(p) for p in params])


def frame_from_cursor(cur) -> pl.DataFrame:
    """The cursor's result as a typed polars frame (column types from the result description)."""
    names: list[str] = []
    for d in cur.description:
        # Postgres names unaliased aggregates alike (count, count): keep every column, renamed.
        name, k = d.name, 1
        while name in names:
            name, k = f"{d.name}_{k}", k + 1
        names.append(name)
    rows = cur.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pl.DataFrame(
        [
            pl.Series(name, list(values), dtype=_READ_TYPES.get(d.type_code), strict=False)
            for name, values, d in zip(names, columns, cur.description, strict=True)
        ]
    )


def query(url: str, statement: str, params: Sequence[object] = ()) -> pl.DataFrame:
    with connect(url) as con, con.cursor() as cur:
        execute(cur, statement, params)
        frame = frame_from_cursor(cur)
        con.commit()
    return frame


def _table_ident(table: str) -> sql.Identifier:
    schema, name = table.split(".")
    return sql.Identifier(schema, name)


def existing_columns(cur, table: str) -> dict[str, str]:
    """Column name -> data type of ``table`` (empty when it does not exist)."""
    schema, name = table.split(".")
    cur.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = %s and table_name = %s order by ordinal_position",
        [schema, name],
    )
    return dict(cur.fetchall())


def _create_table(cur, table: str, schema: dict[str, pl.DataType]) -> None:
    """Create ``table`` (and its schema) from a frame schema unless it exists.

    The first writer of a new table takes a transaction-scoped advisory lock, so two runs creating
    it at once do not race on the catalog; once the table exists no lock is taken.
    """
    schema_name = table.split(".")[0]
    cur.execute("select to_regclass(%s)", [table])
    if cur.fetchone()[0] is not None:
        return
    cur.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"create {table}"])
    cur.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema_name)))
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(pg_type(t))) for c, t in schema.items()
    )
    cur.execute(sql.SQL("create table if not exists {} ({})").format(_table_ident(table), columns))


def client_as_of_index(table: str) -> str:
    """The name of ``table``'s ``(client_id, as_of)`` index, qualified by its schema."""
    schema, name = table.split(".")
    return f"{schema}.{name}_client_as_of_idx"


def ensure_client_as_of_index(cur, table: str, schema: dict[str, pl.DataType]) -> None:
    """A ``(client_id, as_of)`` index on a table that has both columns (the forecast and
    evaluation tables, whose history accumulates one origin per run): each write's delete of the
    client's origin, each reader of one origin and the backtest retention delete find their rows
    through it instead of scanning every client's history.

    Created with the table, or by the first write to a table an older version created; once it
    exists, a catalog lookup is all it costs.
    """
    if "client_id" not in schema or "as_of" not in schema:
        return
    index = client_as_of_index(table)
    cur.execute("select to_regclass(%s)", [index])
    if cur.fetchone()[0] is not None:
        return
    cur.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"create {index}"])
    cur.execute(
        sql.SQL("create index if not exists {} on {} (client_id, as_of)").format(
            sql.Identifier(index.split(".")[1]), _table_ident(table)
        )
    )


def copy_frame(cur, table: str, frame: pl.DataFrame) -> int:
    """Append ``frame`` to ``table`` with COPY, matching columns by name, in bounded batches.

    Postgres refuses COPY FROM into a table whose row-level security applies to the writer (a
    consumer mart with RLS forced, see :mod:`forecast_assets.tenancy`): there the batches are
    copied into a temporary table and inserted from it, which the writer's policy admits.
    """
    if frame.is_empty():
        return 0
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
    cur.execute("select row_security_active(%s::regclass)", [table])
    staged = bool(cur.fetchone()[0])
    target = sql.Identifier("incoming_" + table.replace(".", "_")) if staged else _table_ident(table)
    if staged:
        cur.execute(
            sql.SQL("create temporary table if not exists {} (like {}) on commit drop").format(
                target, _table_ident(table)
            )
        )
    statement = sql.SQL("copy {} ({}) from stdin with (format csv)").format(target, columns)
    for batch in frame.iter_slices(COPY_ROWS):
        if staged:
            cur.execute(sql.SQL("truncate {}").format(target))
        cur.copy_expert(statement, io.BytesIO(batch.write_csv(include_header=False).encode()))
        if staged:
            cur.execute(
                sql.SQL("insert into {} ({}) select {} from {}").format(
                    _table_ident(table), columns, columns, target
                )
            )
    return frame.height


def add_missing_columns(url: str, table: str, schema: dict[str, pl.DataType]) -> list[str]:
    """Add (nullable) the columns of ``schema`` that ``table`` lacks; nothing is dropped or retyped."""
    with connect(url) as con, con.cursor() as cur:
        have = existing_columns(cur, table)
        added = [c for c in schema if have and c not in have]
        for column in added:
            cur.execute(
                sql.SQL("alter table {} add column if not exists {} {}").format(
                    _table_ident(table), sql.Identifier(column), sql.SQL(pg_type(schema[column]))
                )
            )
        con.commit()
    return added


def replace_rows(
    url: str,
    client_id: str,
    writes: Sequence[
        tuple[str, dict[str, object], dict[str, pl.DataType], Iterator[pl.DataFrame], object | None]
    ],
) -> dict[str, int]:
    """For each ``(table, scope, schema, frames, backtest_expiry)``: delete the client's rows
    matching ``scope``, COPY ``frames`` in and, with an expiry date, delete the client's backtest
    rows of an earlier ``as_of``, all in one transaction (a failure leaves every table as it was).

    The client's lock (:func:`client_lock`) is held around the transaction, so the write never
    interleaves with another run of the same client (its writes or its dbt build); a
    transaction-scoped advisory lock per table and client stays as a second guard.
    """
    written: dict[str, int] = {}
    with client_lock(url, client_id), connect(url) as con:
        try:
            with con.cursor() as cur:
                for table, scope, schema, frames, expiry in writes:
                    _create_table(cur, table, schema)
                    ensure_client_as_of_index(cur, table, schema)
                    cur.execute(
                        "select pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"{table}:{client_id}"]
                    )
                    conditions = sql.SQL(" and ").join(
                        sql.SQL("{} = %s").format(sql.Identifier(c)) for c in ["client_id", *scope]
                    )
                    cur.execute(
                        sql.SQL("delete from {} where {}").format(_table_ident(table), conditions),
                        [client_id, *(_param(v) for v in scope.values())],
                    )
                    written[table] = sum(copy_frame(cur, table, frame) for frame in frames)
                    if expiry is not None:
                        cur.execute(
                            sql.SQL(
                                "delete from {} where client_id = %s and kind = 'backtest' and as_of < %s"
                            ).format(_table_ident(table)),
                            [client_id, expiry],
                        )
            con.commit()
        except Exception:
            con.rollback()
            raise
    return written


def parquet_frames(files: Sequence[Path], client_id: str) -> Iterator[pl.DataFrame]:
    """Spooled Parquet files one at a time with the client's key added: memory holds one file."""
    for path in files:
        frame = pl.read_parquet(path)
        yield frame.with_columns(pl.lit(client_id).alias("client_id")).select(
            "client_id", pl.exclude("client_id")
        )


def parquet_schema(files: Sequence[Path]) -> dict[str, pl.DataType]:
    """The table schema of spooled files: ``client_id`` first, then the first file's columns."""
    return {"client_id": pl.Utf8, **dict(pl.read_parquet_schema(files[0]))}
