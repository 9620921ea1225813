"""Tenant isolation on the real Postgres server (the local one; skipped only where none runs, and
fatal in the Postgres run): consumer roles made by ``forecast-assets grant-consumers`` read only
their own client's rows of every consumer mart and write nothing, while the warehouse writer (a
plain, non-superuser role owning the tables) keeps writing under forced row-level security.

Roles are global to the server, so every name here carries a random suffix and the roles are
dropped after each test; the database is a scratch one (tests/backends.py).
"""

import secrets
from contextlib import closing
from urllib.parse import urlsplit, urlunsplit

import polars as pl
import psycopg2
import psycopg2.errors
import pytest
from psycopg2 import sql

from forecast_assets import tenancy
from forecast_assets.cli import main
from forecast_assets.resources.warehouse import TableWrite, Warehouse
from forecast_assets.tenancy import CONSUMER_MARTS, role_name

ROWS = {"shop_a": 3, "shop_b": 2}


def as_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.hostname}:{parts.port or 5432}"))


def _mart_rows(client: str) -> pl.DataFrame:
    n = ROWS[client]
    return pl.DataFrame(
        {"item_id": [f"{client}-{k}" for k in range(n)], "units": [float(k) for k in range(n)]}
    )


def _admin_run(url: str, *statements: sql.Composable) -> None:
    con = psycopg2.connect(url)
    con.autocommit = True
    try:
        with con.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        con.close()


@pytest.fixture
def tenancy_db(postgres_url, monkeypatch):
    """Marts with two clients' rows written by a non-superuser writer, consumer roles granted by
    the CLI (as that writer, with login passwords from the environment)."""
    tag = secrets.token_hex(3)
    writer, group, prefix = f"writer_{tag}", f"consumers_{tag}", f"c{tag}_"
    database = urlsplit(postgres_url).path.lstrip("/")
    _admin_run(
        postgres_url,
        sql.SQL("create role {} login createrole").format(sql.Identifier(writer)),
        sql.SQL("grant create on database {} to {}").format(sql.Identifier(database), sql.Identifier(writer)),
    )
    writer_url = as_user(postgres_url, writer)
    warehouse = Warehouse(url=writer_url)
    for client in ROWS:
        warehouse.replace_client_rows(
            client, [TableWrite(mart, _mart_rows(client)) for mart in CONSUMER_MARTS]
        )
    warehouse.replace_client_rows("shop_a", [TableWrite("raw.sales", _mart_rows("shop_a"))])

    monkeypatch.setenv("WAREHOUSE_URL", writer_url)
    monkeypatch.setenv("CONSUMER_GROUP_ROLE", group)
    monkeypatch.setenv("CONSUMER_ROLE_PREFIX", prefix)
    monkeypatch.setenv("CONSUMER_PASSWORD_SHOP_A", "secret-a")
    monkeypatch.setenv("CONSUMER_PASSWORD_SHOP_B", "secret-b")
    roles = {client: role_name(client, prefix) for client in ROWS}
    try:
        assert main(["grant-consumers", "--login"]) == 0
        yield {"url": postgres_url, "writer_url": writer_url, "group": group, "roles": roles}
    finally:
        everyone = [*roles.values(), group, writer]
        existing = [r for r in everyone if _role_exists(postgres_url, r)]
        if existing:
            idents = sql.SQL(", ").join(sql.Identifier(r) for r in existing)
            _admin_run(
                postgres_url,
                sql.SQL("drop owned by {} cascade").format(idents),
                sql.SQL("drop role {}").format(idents),
            )


def _role_exists(url: str, role: str) -> bool:
    with closing(psycopg2.connect(url)) as con, con.cursor() as cur:
        cur.execute("select 1 from pg_roles where rolname = %s", [role])
        return cur.fetchone() is not None


def consumer(db, client: str):
    """A login connection as the client's consumer role (trust auth on 127.0.0.1 here)."""
    con = psycopg2.connect(as_user(db["url"], db["roles"][client]))
    con.autocommit = True
    return con


def _read(con, query: str) -> list[tuple]:
    with con.cursor() as cur:
        cur.execute(query)
        return cur.fetchall()


def test_each_client_role_reads_only_its_own_rows_of_every_mart(tenancy_db):
    for client, expected in ROWS.items():
        con = consumer(tenancy_db, client)
        try:
            for mart in CONSUMER_MARTS:
                got = _read(con, f"select client_id, count(*) from {mart} group by client_id")
                assert got == [(client, expected)], (client, mart)
                # A filter on another client finds nothing rather than an error: the rows are not there.
                other = next(c for c in ROWS if c != client)
                assert _read(con, f"select count(*) from {mart} where client_id = '{other}'") == [(0,)]
            # The mapping shows the role its own client only, not the list of tenants.
            assert _read(con, "select client_id from tenancy.client_roles") == [(client,)]
        finally:
            con.close()


@pytest.mark.parametrize(
    "statement",
    [
        "insert into {mart} (client_id, item_id, units) values ('{client}', 'x', 1)",
        "update {mart} set units = 0",
        "delete from {mart}",
        "truncate {mart}",
        "insert into tenancy.client_roles values ('{role}', 'shop_b')",
        "update tenancy.client_roles set client_id = 'shop_b'",
        "select count(*) from raw.sales",
        "select count(*) from tenancy.settings",
    ],
)
def test_client_roles_cannot_write_or_read_beyond_the_marts(tenancy_db, statement):
    for client in ROWS:
        con = consumer(tenancy_db, client)
        try:
            for mart in CONSUMER_MARTS:
                text = statement.format(mart=mart, client=client, role=tenancy_db["roles"][client])
                with pytest.raises(psycopg2.errors.InsufficientPrivilege), con.cursor() as cur:
                    cur.execute(text)
        finally:
            con.close()
    # Nothing changed for anyone.
    for client, expected in ROWS.items():
        con = consumer(tenancy_db, client)
        try:
            assert _read(con, "select count(*) from analytics.fct_demand_forecast") == [(expected,)]
        finally:
            con.close()


def test_roles_log_in_with_a_scram_verifier_and_no_clear_password(tenancy_db):
    with closing(psycopg2.connect(tenancy_db["url"])) as con, con.cursor() as cur:
        cur.execute(
            "select rolname, rolcanlogin, rolsuper, rolbypassrls, rolpassword from pg_authid "
            "where rolname = any(%s) order by rolname",
            [list(tenancy_db["roles"].values())],
        )
        found = cur.fetchall()
    assert len(found) == 2
    for _, can_login, is_super, bypass, password in found:
        assert can_login and not is_super and not bypass
        assert password.startswith("SCRAM-SHA-256$") and "secret" not in password


def test_the_writer_keeps_writing_under_forced_rls_and_policies_survive_incremental_writes(tenancy_db):
    writer = Warehouse(url=tenancy_db["writer_url"])
    # dbt's incremental delete+insert, as the table owner (not a superuser): allowed, sees every client.
    wider = pl.concat([_mart_rows("shop_a"), _mart_rows("shop_a").with_columns(pl.col("item_id") + "-new")])
    writer.replace_client_rows("shop_a", [TableWrite("analytics.fct_demand_forecast", wider)])
    counts = writer.query(
        "select client_id, count(*) as n from analytics.fct_demand_forecast group by 1 order by 1"
    ).rows()
    assert counts == [("shop_a", 6), ("shop_b", 2)]
    con = consumer(tenancy_db, "shop_b")
    try:
        assert _read(con, "select client_id, count(*) from analytics.fct_demand_forecast group by 1") == [
            ("shop_b", 2)
        ]
    finally:
        con.close()


def test_a_full_refresh_fails_closed_until_the_serving_step_resecures(tenancy_db):
    writer_url = tenancy_db["writer_url"]
    with closing(psycopg2.connect(writer_url)) as con, con.cursor() as cur:  # what dbt --full-refresh does
        cur.execute("create table analytics.dim_item__new as select * from analytics.dim_item")
        cur.execute("drop table analytics.dim_item")
        cur.execute("alter table analytics.dim_item__new rename to dim_item")
        con.commit()
    con = consumer(tenancy_db, "shop_a")
    try:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), con.cursor() as cur:
            cur.execute("select count(*) from analytics.dim_item")
        # What dbt_serving runs after every build on Postgres.
        assert "analytics.dim_item" in tenancy.resecure_if_enabled(writer_url)
        assert _read(con, "select client_id, count(*) from analytics.dim_item group by 1") == [("shop_a", 3)]
    finally:
        con.close()


def test_a_group_member_without_a_mapping_sees_no_rows(tenancy_db):
    loner = f"{tenancy_db['group']}_loner"
    _admin_run(
        tenancy_db["url"],
        sql.SQL("create role {} login in role {}").format(
            sql.Identifier(loner), sql.Identifier(tenancy_db["group"])
        ),
    )
    try:
        con = psycopg2.connect(as_user(tenancy_db["url"], loner))
        try:
            for mart in CONSUMER_MARTS:
                assert _read(con, f"select count(*) from {mart}") == [(0,)]
        finally:
            con.close()
    finally:
        _admin_run(
            tenancy_db["url"],
            sql.SQL("drop owned by {}").format(sql.Identifier(loner)),
            sql.SQL("drop role {}").format(sql.Identifier(loner)),
        )


def test_role_names_are_validated_and_fit_postgres_identifiers():
    assert role_name("shop_a") == "client_shop_a"
    long_a, long_b = "a" * 62 + "1", "a" * 62 + "2"
    names = {role_name(long_a), role_name(long_b)}
    assert len(names) == 2 and all(len(n) <= 63 for n in names)
    with pytest.raises(ValueError, match="invalid client key"):
        role_name("shop_a; drop role postgres")
    with pytest.raises(ValueError, match="invalid consumer role prefix"):
        role_name("shop_a", prefix="Client-")


def test_grant_consumers_refuses_a_duckdb_warehouse(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WAREHOUSE_URL", f"duckdb:///{tmp_path / 'w.duckdb'}")
    assert main(["grant-consumers"]) == 2
    assert "needs a Postgres WAREHOUSE_URL" in capsys.readouterr().err
