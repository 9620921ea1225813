"""Consumers never reach the candidates: the serving build's re-securing (tenancy.py) covers the
served marts only, so the rows a client's run built but has not (or not yet) served, in schema
``analytics_candidates``, stay out of every consumer role's reach. Real Postgres, the consumer
roles of ``forecast-assets grant-consumers`` (the fixture of test_tenancy.py)."""

import psycopg2.errors
import pytest

from forecast_assets import tenancy
from forecast_assets.resources.warehouse import TableWrite, Warehouse

from .test_tenancy import ROWS, _mart_rows, _read, consumer, tenancy_db  # noqa: F401 (fixture)

CANDIDATES = tuple(f"analytics_candidates.{mart.split('.')[1]}__candidate" for mart in tenancy.CONSUMER_MARTS)


def test_consumer_roles_cannot_read_the_candidates(tenancy_db):  # noqa: F811
    warehouse = Warehouse(url=tenancy_db["writer_url"])
    for client in ROWS:
        warehouse.replace_client_rows(client, [TableWrite(t, _mart_rows(client)) for t in CANDIDATES])
    secured = tenancy.resecure_if_enabled(tenancy_db["writer_url"])  # as after each serving build
    assert set(secured) == set(tenancy.CONSUMER_MARTS)
    for client, expected in ROWS.items():
        con = consumer(tenancy_db, client)
        try:
            for table in CANDIDATES:
                with pytest.raises(psycopg2.errors.InsufficientPrivilege), con.cursor() as cur:
                    cur.execute(f"select count(*) from {table}")
            assert _read(con, "select count(*) from analytics.fct_demand_forecast") == [(expected,)]
        finally:
            con.close()
