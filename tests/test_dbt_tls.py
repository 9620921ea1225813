"""dbt connects with the same TLS settings as the Python connections: both read them from the one
``WAREHOUSE_URL`` (libpq from its query string, dbt through profiles.yml's variables)."""

import os
import subprocess

import pytest

from forecast_assets.defs.dbt import dbt_executable
from forecast_assets.settings import DBT_PROJECT_DIR
from forecast_assets.urls import dbt_env, postgres_tls

BASE = "postgresql://forecast:pw@db.internal:5432/warehouse"
NONE = {"DBT_PG_SSLMODE": "prefer", "DBT_PG_SSLROOTCERT": "", "DBT_PG_SSLCERT": "", "DBT_PG_SSLKEY": ""}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", NONE),
        ("?sslmode=verify-full", NONE | {"DBT_PG_SSLMODE": "verify-full"}),
        ("?sslmode=require", NONE | {"DBT_PG_SSLMODE": "require"}),
        ("?sslmode=disable", NONE | {"DBT_PG_SSLMODE": "disable"}),
        (
            "?sslmode=verify-ca&sslrootcert=/etc/ssl/pg/root.crt",
            NONE | {"DBT_PG_SSLMODE": "verify-ca", "DBT_PG_SSLROOTCERT": "/etc/ssl/pg/root.crt"},
        ),
        (
            "?sslmode=verify-full&sslrootcert=/r.crt&sslcert=/c.crt&sslkey=/c.key",
            {
                "DBT_PG_SSLMODE": "verify-full",
                "DBT_PG_SSLROOTCERT": "/r.crt",
                "DBT_PG_SSLCERT": "/c.crt",
                "DBT_PG_SSLKEY": "/c.key",
            },
        ),
        # Percent-encoded paths are decoded; a repeated parameter: the last wins, as in libpq.
        ("?sslrootcert=/certs/my%20root.crt", NONE | {"DBT_PG_SSLROOTCERT": "/certs/my root.crt"}),
        ("?sslmode=disable&sslmode=verify-full", NONE | {"DBT_PG_SSLMODE": "verify-full"}),
        # Other libpq parameters are not TLS settings and do not reach these variables.
        ("?application_name=x&connect_timeout=5", NONE),
    ],
)
def test_dbt_gets_the_urls_tls_settings(query, expected):
    env = dbt_env(BASE + query)
    assert {k: v for k, v in env.items() if k in NONE} == expected
    assert env["DBT_PG_DBNAME"] == "warehouse" and env["DBT_PG_HOST"] == "db.internal"


def test_tls_parameters_are_read_from_the_query_string_only():
    assert postgres_tls("postgresql+psycopg2://u@h/d?sslmode=require") == {"sslmode": "require"}
    assert postgres_tls("postgresql://u@h/sslmode") == {}


def test_dbt_passes_the_tls_settings_to_its_connection(tmp_path):
    """dbt really connects with them: a server that does not speak TLS refuses sslmode=require,
    while the same URL without it connects (dbt debug against the local server)."""
    from .backends import SCRATCH

    if not SCRATCH.reachable():
        pytest.skip("no Postgres server")

    def debug(url: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                dbt_executable(),
                "debug",
                *("--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)),
                *("--log-path", str(tmp_path / "logs")),
            ],
            env={**os.environ, **dbt_env(url)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    plain = debug(SCRATCH.admin_url + "?sslmode=disable")
    assert plain.returncode == 0, plain.stdout[-2000:]
    missing = debug(SCRATCH.admin_url + "?sslmode=verify-full&sslrootcert=/nonexistent/root.crt")
    assert missing.returncode != 0
    assert "root.crt" in missing.stdout or "SSL" in missing.stdout, missing.stdout[-2000:]
