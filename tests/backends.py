"""Which storage the suite runs on, and scratch Postgres databases for it.

``FORECAST_TEST_BACKEND=postgres`` runs the same tests with the warehouse (and dbt), MLflow and the
Dagster instance on the Postgres server at ``FORECAST_TEST_POSTGRES_URL`` (default: the local
server, user postgres). Every database a session uses is new, named
``forecast_test_<random>_<n>_<label>``, and dropped when the session ends, so parallel CI runs and
other users of the server never see each other's tables. Tests that need Postgres whatever the
backend (tenant isolation) use the same scratch databases.
"""

import os
import secrets
import shutil
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql

from forecast_assets.resources.warehouse import Warehouse
from forecast_assets.urls import libpq_url

BACKEND = os.environ.get("FORECAST_TEST_BACKEND", "").strip().lower() or "duckdb"
if BACKEND not in {"duckdb", "postgres"}:
    raise ValueError(f"FORECAST_TEST_BACKEND must be duckdb or postgres, got {BACKEND!r}")
ADMIN_URL = os.environ.get("FORECAST_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def with_database(url: str, database: str) -> str:
    """``url`` pointing at another database of the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


class ScratchDatabases:
    """Databases created for this test session; :meth:`drop_all` removes every one of them."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.prefix = f"forecast_test_{secrets.token_hex(4)}"
        self.created: list[str] = []
        self._reachable: bool | None = None

    def _admin(self):
        con = psycopg2.connect(libpq_url(self.admin_url), connect_timeout=5)
        con.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
        return con

    def reachable(self) -> bool:
        if self._reachable is None:
            try:
                self._admin().close()
                self._reachable = True
            except psycopg2.OperationalError:
                self._reachable = False
        return self._reachable

    def create(self, label: str, template: str | None = None) -> str:
        """A new empty database (or a copy of ``template``); returns its URL."""
        name = f"{self.prefix}_{len(self.created)}_{label}"[:63]
        statement = sql.SQL("create database {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" template {}").format(sql.Identifier(template))
        con = self._admin()
        try:
            with con.cursor() as cur:
                cur.execute(statement)
        finally:
            con.close()
        self.created.append(name)
        return with_database(self.admin_url, name)

    def drop_all(self) -> None:
        if not self.created:
            return
        con = self._admin()
        try:
            with con.cursor() as cur:
                for name in reversed(self.created):
                    cur.execute(
                        sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
                    )
        finally:
            con.close()
        self.created.clear()


SCRATCH = ScratchDatabases(ADMIN_URL)


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def clone_warehouse(url: str, tmp_path) -> str:
    """A copy of a warehouse to break things in: a copied DuckDB file or a Postgres database
    created from the original as template."""
    if url.startswith("duckdb:///"):
        copy = tmp_path / "copy.duckdb"
        shutil.copy(url.removeprefix("duckdb:///"), copy)
        return f"duckdb:///{copy}"
    return SCRATCH.create("copy", template=database_name(url))


def sql_rows(url: str, query: str, params=()) -> list[tuple]:
    """Rows of a read query on either backend (``?`` placeholders), as tuples."""
    return Warehouse(url=url).query(query, params).rows()


def execute(url: str, statement: str) -> None:
    """Run one statement that returns nothing, committed, on either backend."""
    warehouse = Warehouse(url=url)
    with warehouse.connect() as con:
        if warehouse.backend == "postgres":
            with con.cursor() as cur:
                cur.execute(statement)
            con.commit()
        else:
            con.execute(statement)
