"""Runs at the same time on the real Postgres server (the local one; skipped only where none runs):
one client's writers are serialized by its advisory lock, different clients never wait for each
other, and re-securing the marts from concurrent serving builds neither fails nor remaps roles.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import polars as pl
import psycopg2
import pytest
from psycopg2 import sql

from forecast_assets import tenancy
from forecast_assets.resources import warehouse_postgres as pg
from forecast_assets.resources.warehouse import TableWrite, Warehouse
from forecast_assets.tenancy import CONSUMER_MARTS, role_name

from .test_tenancy import ROWS, _admin_run, _read, consumer, tenancy_db  # noqa: F401 (fixture)


def _rows(client: str, n: int, tag: str) -> pl.DataFrame:
    return pl.DataFrame({"item_id": [f"{client}-{k}" for k in range(n)], "tag": [tag] * n})


def test_advisory_keys_are_stable_64_bit_and_distinct():
    key = pg.advisory_key("client:shop_a")
    assert key == pg.advisory_key("client:shop_a")
    assert -(2**63) <= key < 2**63
    keys = {pg.advisory_key(f"client:shop_{k}") for k in range(1000)}
    assert len(keys) == 1000


def test_concurrent_writers_of_one_client_leave_no_duplicate_rows(postgres_url):
    warehouse = Warehouse(url=postgres_url)
    barrier = threading.Barrier(6)

    def write(k: int) -> None:
        barrier.wait()
        warehouse.replace_client_rows("shop_a", [TableWrite("ml.things", _rows("shop_a", 500, f"w{k}"))])

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(write, range(6)))
    got = warehouse.query("select count(*) as n, count(distinct tag) as tags from ml.things").rows()
    assert got == [(500, 1)]


def test_the_client_lock_blocks_its_own_client_only(postgres_url):
    """While one run holds client A's lock (as a dbt build does), A's writes wait and B's don't."""
    warehouse = Warehouse(url=postgres_url)
    for client in ("shop_a", "shop_b"):
        warehouse.replace_client_rows(client, [TableWrite("ml.things", _rows(client, 2, "old"))])
    with ThreadPoolExecutor(2) as pool:
        with warehouse.client_lock("shop_a"):
            a = pool.submit(
                warehouse.replace_client_rows, "shop_a", [TableWrite("ml.things", _rows("shop_a", 3, "new"))]
            )
            b = pool.submit(
                warehouse.replace_client_rows, "shop_b", [TableWrite("ml.things", _rows("shop_b", 3, "new"))]
            )
            assert b.result(timeout=20) == {"ml.things": 3}
            time.sleep(1.0)
            assert not a.done()  # still waiting for the lock
            before = warehouse.query(
                "select count(*) as n from ml.things where client_id = 'shop_a' and tag = 'new'"
            ).rows()
            assert before == [(0,)]
        assert a.result(timeout=20) == {"ml.things": 3}
    got = warehouse.query(
        "select client_id, tag, count(*) as n from ml.things group by 1, 2 order by 1"
    ).rows()
    assert got == [("shop_a", "new", 3), ("shop_b", "new", 3)]


def test_the_client_lock_is_reentrant_within_a_thread(postgres_url):
    """A write inside a block already holding the client's lock (as a locked dbt step would do)
    does not wait for itself."""
    warehouse = Warehouse(url=postgres_url)
    with ThreadPoolExecutor(1) as pool:

        def nested() -> dict[str, int]:
            with warehouse.client_lock("shop_a"), warehouse.client_lock("shop_a"):
                return warehouse.replace_client_rows(
                    "shop_a", [TableWrite("ml.things", _rows("shop_a", 2, "x"))]
                )

        assert pool.submit(nested).result(timeout=20) == {"ml.things": 2}


def test_the_client_lock_is_released_after_a_failed_block(postgres_url):
    warehouse = Warehouse(url=postgres_url)
    with pytest.raises(RuntimeError), warehouse.client_lock("shop_a"):
        raise RuntimeError("dbt failed")
    # Taken again at once from another connection: it was released.
    with closing(psycopg2.connect(postgres_url)) as con, con.cursor() as cur:
        cur.execute("select pg_try_advisory_lock(%s)", [pg.advisory_key("client:shop_a")])
        assert cur.fetchone()[0] is True


def test_concurrent_resecuring_serving_builds_all_succeed(tenancy_db):  # noqa: F811
    """Several serving builds re-securing the marts at once (after a full refresh dropped grants and
    policies) all succeed, and each consumer still sees only its client."""
    url = tenancy_db["writer_url"]
    for mart in CONSUMER_MARTS:
        schema, name = mart.split(".")
        ident = sql.Identifier(schema, name)
        _admin_run(
            tenancy_db["url"],
            sql.SQL("drop policy consumer_own_client on {}").format(ident),
            sql.SQL("revoke all on {} from {}").format(ident, sql.Identifier(tenancy_db["group"])),
        )
    barrier = threading.Barrier(6)

    def resecure(_: int) -> list[str]:
        barrier.wait()
        return [t for _ in range(3) for t in tenancy.resecure_if_enabled(url)]

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(resecure, range(6)))
    assert all(len(r) == 3 * len(CONSUMER_MARTS) for r in results)
    for client, expected in ROWS.items():
        con = consumer(tenancy_db, client)
        try:
            for mart in CONSUMER_MARTS:
                assert _read(con, f"select client_id, count(*) from {mart} group by 1") == [
                    (client, expected)
                ]
        finally:
            con.close()


def test_resecuring_a_secured_mart_changes_nothing(tenancy_db):  # noqa: F811
    """Grants and policies are applied only when missing: an already secured mart's ACL and
    policies are the same objects afterwards (no revoke/re-grant on every build)."""
    url = tenancy_db["writer_url"]

    def state():
        with psycopg2.connect(url) as con, con.cursor() as cur:
            cur.execute(
                "select c.relname, c.relacl::text, c.xmin::text from pg_class c "
                "join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'analytics' order by 1"
            )
            return cur.fetchall()

    before = state()
    tenancy.resecure_if_enabled(url)
    assert state() == before  # xmin of pg_class rows unchanged: no GRANT/REVOKE/ALTER touched them


def test_a_role_mapped_to_another_client_is_not_remapped(tenancy_db):  # noqa: F811
    url, group = tenancy_db["writer_url"], tenancy_db["group"]
    role_a = tenancy_db["roles"]["shop_a"]
    with psycopg2.connect(url) as con, con.cursor() as cur:
        con.autocommit = True
        cur.execute("update tenancy.client_roles set client_id = 'shop_b' where role_name = %s", [role_a])
    prefix = role_a.removesuffix("shop_a")
    with pytest.raises(ValueError, match="mapped to another client"):
        tenancy.grant_client(url, "shop_a", group, prefix, password="x")
    rows = _read(consumer(tenancy_db, "shop_b"), "select client_id from tenancy.client_roles")
    assert rows == [("shop_b",)]


def test_long_keys_sharing_a_prefix_get_distinct_roles():
    shared = "k" * 56
    keys = [shared + "a", shared + "b", shared, shared[:55], "k" * 63]
    names = [role_name(k) for k in keys]
    assert len(set(names)) == len(keys) and all(len(n) <= 63 for n in names)
    # A plain name is shorter than any hashed one, so no key can be crafted to equal a hashed name.
    hashed = role_name(shared + "a")
    assert len(hashed) == 63 and len(role_name("k" * 55)) < 63
    crafted = hashed.removeprefix("client_")
    assert role_name(crafted) != hashed
    for prefix in ("c_", "consumers_of_tenant_"):
        assert len({role_name(k, prefix) for k in keys}) == len(keys)
