"""Database URLs: the scheme of one URL picks the backend, and each client library gets the form it
needs from that one value.

Why this module: the warehouse, dbt, MLflow and the Dagster instance all talk to the same Postgres
server in production, but each wants its own spelling. libpq (psycopg2) does not know
``postgresql+psycopg2://``; SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3, which is
not installed; dbt wants host, port, user and database as separate profile fields. Users write one
plain ``postgresql://user:password@host:port/db`` and these functions derive the rest.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

_POSTGRES_SCHEMES = {"postgresql", "postgres"}


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def warehouse_backend(url: str) -> str:
    """``duckdb`` or ``postgres`` for a warehouse URL; anything else is refused."""
    scheme = _scheme(url)
    if scheme == "duckdb" and url.startswith("duckdb:///"):
        return "duckdb"
    if scheme.split("+")[0] in _POSTGRES_SCHEMES:
        return "postgres"
    raise ValueError(
        f"unsupported WAREHOUSE_URL scheme {scheme or url[:12]!r}: "
        "use duckdb:///path/to/file.duckdb or postgresql://user:password@host:port/database"
    )


def is_postgres_url(url: str) -> bool:
    return _scheme(url).split("+")[0] in _POSTGRES_SCHEMES


def duckdb_file(url: str) -> Path | None:
    """The DuckDB file behind a ``duckdb:///`` URL, else None."""
    return Path(url.removeprefix("duckdb:///")) if url.startswith("duckdb:///") else None


def libpq_url(url: str) -> str:
    """The URL as libpq (psycopg2) accepts it: ``postgresql://`` without a ``+driver`` suffix."""
    if not is_postgres_url(url):
        raise ValueError("not a Postgres URL")
    return "postgresql://" + url.split("://", 1)[1]


def sqlalchemy_url(url: str) -> str:
    """A Postgres URL with the psycopg2 driver named, as SQLAlchemy 2.1 (MLflow, Dagster) needs it.

    Other URLs (sqlite, http, file) are returned unchanged, so this is safe on any tracking URI.
    """
    if is_postgres_url(url) and "+" not in _scheme(url):
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def postgres_parts(url: str) -> dict[str, str]:
    """host, port, user, password and database of a Postgres URL (percent-decoded)."""
    parts = urlsplit(libpq_url(url))
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": str(parts.port or 5432),
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "dbname": unquote(parts.path.lstrip("/")) or "postgres",
    }


# libpq's TLS parameters of a URL's query string -> the dbt profile's variables.
DBT_TLS_VARIABLES = {
    "sslmode": "DBT_PG_SSLMODE",
    "sslrootcert": "DBT_PG_SSLROOTCERT",
    "sslcert": "DBT_PG_SSLCERT",
    "sslkey": "DBT_PG_SSLKEY",
}
DEFAULT_SSLMODE = "prefer"  # libpq's own default, for a URL that names none


def postgres_tls(url: str) -> dict[str, str]:
    """The TLS parameters (``sslmode``, ``sslrootcert``, ``sslcert``, ``sslkey``) of a Postgres URL's
    query string, as libpq reads them from the same URL in the Python connections; the last value
    wins where one is repeated, as in libpq."""
    query = parse_qs(urlsplit(libpq_url(url)).query, keep_blank_values=True)
    return {name: query[name][-1] for name in DBT_TLS_VARIABLES if name in query}


def dbt_env(warehouse_url: str) -> dict[str, str]:
    """Environment for a dbt subprocess building the warehouse at ``warehouse_url``.

    ``DBT_TARGET`` picks the profiles.yml output; the Postgres password goes in a
    ``DBT_ENV_SECRET_`` variable, which dbt scrubs from its logs. The URL's TLS parameters reach
    dbt's profile too (``sslmode=verify-full`` must not become dbt's ``prefer``); every TLS variable
    is set, empty where the URL names none, so one written for an earlier URL in this process
    never lingers.
    """
    if warehouse_backend(warehouse_url) == "duckdb":
        return {"DBT_TARGET": "duckdb", "DBT_DUCKDB_PATH": str(duckdb_file(warehouse_url))}
    parts = postgres_parts(warehouse_url)
    return {
        "DBT_TARGET": "postgres",
        "DBT_PG_HOST": parts["host"],
        "DBT_PG_PORT": parts["port"],
        "DBT_PG_USER": parts["user"],
        "DBT_ENV_SECRET_PG_PASSWORD": parts["password"],
        "DBT_PG_DBNAME": parts["dbname"],
        **{variable: "" for variable in DBT_TLS_VARIABLES.values()},
        "DBT_PG_SSLMODE": DEFAULT_SSLMODE,
        **{DBT_TLS_VARIABLES[name]: value for name, value in postgres_tls(warehouse_url).items()},
    }
