"""The warehouse: one interface over a DuckDB file (default) or Postgres, with portable SQL.

The URL's scheme picks the backend (``duckdb:///file`` or ``postgresql://...``); the Postgres side
lives in :mod:`forecast_assets.resources.warehouse_postgres`, so callers never see the difference:
``?`` placeholders, polars frames back, one transaction per client write.

Connections are short-lived: DuckDB admits one writing process at a time and dbt runs in a
subprocess, so no connection is ever held across a dbt call or model inference. Every write of a
client partition replaces that client's rows in one transaction, so a rerun is idempotent and a
failed run leaves the previous rows in place. Values always travel as query parameters.

What keeps reads of one client and origin fast as history accumulates: on Postgres a
``(client_id, as_of)`` index on every table that has both columns (created with the table, or at
the first write after an upgrade). On DuckDB nothing extra: each write inserts one client's rows
of one ``as_of`` in one statement, so they lie contiguously, in a run of row groups shared at
most with the neighbouring writes at its ends, and the min/max zonemaps DuckDB keeps per row group
let a filter on ``client_id`` and ``as_of`` skip the rest (an ART index would cost memory and
slow the bulk inserts, for lookups the zonemaps already prune).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
from dagster import ConfigurableResource

from forecast_assets.core.clients import validate_client_key
from forecast_assets.resources import warehouse_postgres as pg
from forecast_assets.resources.duckdb_lock import connect_duckdb
from forecast_assets.urls import warehouse_backend

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$")


def _check_table(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a safe table name: {name!r}")
    return name


def date_filter(since: object | None, until: object | None) -> tuple[str, list[object]]:
    """A parameterized filter keeping the dates in ``(since, until]`` (either end may be open)."""
    conditions, params = [], []
    if since is not None:
        conditions.append("date > ?")
        params.append(since)
    if until is not None:
        conditions.append("date <= ?")
        params.append(until)
    return " and ".join(conditions), params


@dataclass
class TableWrite:
    """Rows to put in ``table`` for one client, replacing rows that match ``client_id`` and ``scope``.

    The rows are a ``frame``, or Parquet ``files`` spooled while a long computation streamed its
    output (they are read by the database at commit time, never all at once by Python).
    """

    table: str
    frame: pl.DataFrame | pd.DataFrame | None = None
    scope: dict[str, object] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    # Backtest rows (kind = 'backtest') of this client whose as_of lies more than this many days
    # before the written scope's as_of are deleted in the write's transaction, so a forecast
    # table's history does not grow without bound (the served accuracy of those backtests stays
    # aggregated in ml.forecast_evaluation). None keeps them all.
    backtest_retention_days: int | None = None

    def backtest_expiry(self) -> object | None:
        """The as_of before which this client's backtest rows are deleted, or None."""
        if self.backtest_retention_days is None:
            return None
        if "as_of" not in self.scope:
            raise ValueError(f"{self.table}: a backtest retention needs the write scoped by as_of")
        return (pd.Timestamp(self.scope["as_of"]) - pd.Timedelta(days=self.backtest_retention_days)).date()


def _client_frame(write: TableWrite, client_id: str) -> pl.DataFrame:
    """The write's frame with ``client_id`` first; rows of another client are refused."""
    frame = write.frame if isinstance(write.frame, pl.DataFrame) else pl.from_pandas(write.frame)
    if "client_id" in frame.columns and frame.filter(pl.col("client_id") != client_id).height:
        raise ValueError(f"refusing to write another client's rows into {write.table}")
    return frame.with_columns(pl.lit(client_id).alias("client_id")).select(
        "client_id", pl.exclude("client_id")
    )


# polars dtype -> DuckDB column type, for columns added to a table an older version created.
_DUCKDB_TYPES = ((pl.Utf8, "varchar"), (pl.Float64, "double"), (pl.Int64, "bigint"), (pl.Date, "date"))


class Warehouse(ConfigurableResource):
    """The analytical store behind every asset. ``url`` is ``duckdb:///path/to/file.duckdb`` or
    ``postgresql://user:password@host:port/database``."""

    url: str

    @property
    def backend(self) -> str:
        """``duckdb`` or ``postgres``, from the URL's scheme."""
        return warehouse_backend(self.url)

    @property
    def path(self) -> Path:
        if not self.url.startswith("duckdb:///"):
            raise ValueError(f"unsupported WAREHOUSE_URL scheme in {self.url.split('://')[0]!r}")
        return Path(self.url.removeprefix("duckdb:///"))

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection of the backend (a psycopg2 connection on Postgres)."""
        if self.backend == "postgres":
            with pg.connect(self.url) as con:
                yield con
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = connect_duckdb(self.path)  # waits briefly if another process holds the file
        try:
            yield con
        finally:
            con.close()

    def client_lock(self, client_id: str) -> AbstractContextManager[None]:
        """Held around every write of one client's rows, dbt builds included: one run per client
        at a time on Postgres (an advisory lock, see :func:`warehouse_postgres.client_lock`),
        however the run was started. DuckDB needs none: its file lock admits one writing process
        at a time already."""
        validate_client_key(client_id)
        if self.backend == "postgres":
            return pg.client_lock(self.url, client_id)
        return nullcontext()

    def query(self, sql: str, params: Sequence[object] = ()) -> pl.DataFrame:
        """Run a read query with positional ``?`` parameters."""
        if self.backend == "postgres":
            return pg.query(self.url, sql, params)
        with self.connect() as con:
            return pl.from_arrow(con.sql(sql, params=list(params)).to_arrow_table())

    def table_exists(self, table: str) -> bool:
        schema, name = _check_table(table).split(".")
        found = self.query(
            "select count(*) as n from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, name],
        )
        return bool(found["n"][0])

    def read_client(
        self, table: str, client_id: str, where: str = "", params: Sequence[object] = ()
    ) -> pl.DataFrame:
        """All rows of one client from ``table`` (plus an optional parameterized filter)."""
        validate_client_key(client_id)
        sql = f"select * from {_check_table(table)} where client_id = ?"
        if where:
            sql += f" and ({where})"
        return self.query(sql, [client_id, *params])

    def read_client_items(
        self,
        table: str,
        client_id: str,
        items: Sequence[str],
        until: object | None = None,
        since: object | None = None,
    ) -> pl.DataFrame:
        """Rows of some items of one client, optionally only dates in ``(since, until]``.

        Reading by slices of items keeps memory bounded by the slice, whatever the client's size.
        """
        if self.backend == "postgres":
            where, params = "item_id = any(?)", [list(items)]
        else:
            where, params = "item_id in (select unnest(?::varchar[]))", [list(items)]
        dated, bounds = date_filter(since, until)
        if dated:
            where += f" and {dated}"
        return self.read_client(table, client_id, where, [*params, *bounds])

    def replace_client_rows(self, client_id: str, writes: Sequence[TableWrite]) -> dict[str, int]:
        """Replace one client's rows in several tables, all in one transaction."""
        validate_client_key(client_id)
        if self.backend == "postgres":
            return self._replace_postgres(client_id, writes)
        written: dict[str, int] = {}
        with self.connect() as con:
            con.execute("begin transaction")
            try:
                for write in writes:
                    table = _check_table(write.table)
                    con.execute(f"create schema if not exists {table.split('.')[0]}")
                    if write.files:
                        # Spooled rows carry no client_id: this client's key is the only one added.
                        source = "(select ?::varchar as client_id, * from read_parquet(?))"
                        params: list[object] = [client_id, [str(f) for f in write.files]]
                    else:
                        con.register("incoming", _client_frame(write, client_id).to_arrow())
                        source, params = "incoming", []
                    con.execute(
                        f"create table if not exists {table} as select * from {source} limit 0", params
                    )
                    conditions = ["client_id = ?", *[f"{_check_table(k)} = ?" for k in write.scope]]
                    con.execute(
                        f"delete from {table} where {' and '.join(conditions)}",
                        [client_id, *write.scope.values()],
                    )
                    count = con.execute(
                        f"insert into {table} by name select * from {source}", params
                    ).fetchone()
                    written[table] = int(count[0]) if count else 0
                    if (expiry := write.backtest_expiry()) is not None:
                        con.execute(
                            f"delete from {table} where client_id = ? and kind = 'backtest' and as_of < ?",
                            [client_id, expiry],
                        )
                    if not write.files:
                        con.unregister("incoming")
                con.execute("commit")
            except Exception:
                con.execute("rollback")
                raise
        return written

    def _replace_postgres(self, client_id: str, writes: Sequence[TableWrite]) -> dict[str, int]:
        """Postgres: frames go in by COPY; spooled Parquet files are read one at a time."""
        planned = []
        for write in writes:
            table = _check_table(write.table)
            for key in write.scope:
                _check_table(key)
            if write.files:
                schema, frames = pg.parquet_schema(write.files), pg.parquet_frames(write.files, client_id)
            else:
                frame = _client_frame(write, client_id)
                schema, frames = dict(frame.schema), iter([frame])
            planned.append((table, write.scope, schema, frames, write.backtest_expiry()))
        return pg.replace_rows(self.url, client_id, planned)

    def add_missing_columns(self, table: str, frame: pl.DataFrame) -> list[str]:
        """Add (nullable) the columns of ``frame`` that an existing ``table`` lacks, so a warehouse
        built before a table was extended keeps working; nothing is dropped or retyped."""
        if not self.table_exists(_check_table(table)):
            return []
        if self.backend == "postgres":
            return pg.add_missing_columns(self.url, table, dict(frame.schema))
        schema, name = table.split(".")
        added = []
        with self.connect() as con:
            have = {
                r[0]
                for r in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = ?",
                    [schema, name],
                ).fetchall()
            }
            for column, dtype in frame.schema.items():
                sql_type = next((t for pl_type, t in _DUCKDB_TYPES if dtype == pl_type), None)
                if column not in have and sql_type is not None:
                    con.execute(f'alter table {table} add column "{column}" {sql_type}')
                    added.append(column)
        return added
