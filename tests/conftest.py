"""Shared fixtures: small generated landing data, a random-weight Chronos-2, per-test storage.

Storage follows ``FORECAST_TEST_BACKEND`` (see tests/backends.py): DuckDB, SQLite MLflow and an
ephemeral Dagster instance by default; with ``postgres`` the warehouse, MLflow and the Dagster
instance are fresh databases on the Postgres server, dropped when the session ends.
"""

import datetime as dt
import os
from pathlib import Path

# The hub is unreachable here: fail model downloads at once instead of retrying for ~20 s.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
from dagster import DagsterInstance

from forecast_assets.cli import prepare_dagster_home
from forecast_assets.demo.sample_data import DemoClient, write_demo_landing
from forecast_assets.demo.tiny_chronos import save_tiny_chronos2
from forecast_assets.resources.warehouse import Warehouse
from forecast_assets.settings import Settings
from forecast_assets.urls import postgres_parts, sqlalchemy_url

from .backends import BACKEND, SCRATCH

SMALL_CLIENTS = (
    DemoClient("shop_a", n_items=6, sales_format="csv", base_level=20.0, seed=5),
    DemoClient("shop_b", n_items=4, sales_format="parquet", base_level=6.0, seed=9),
)
END = dt.date(2026, 10, 31)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return save_tiny_chronos2(tmp_path_factory.mktemp("chronos") / "tiny-chronos-2")


@pytest.fixture(scope="session", autouse=True)
def _scratch_databases():
    """The Postgres run needs the server; every scratch database goes when the session ends."""
    if BACKEND == "postgres" and not SCRATCH.reachable():
        pytest.exit(f"FORECAST_TEST_BACKEND=postgres but {SCRATCH.admin_url} is not reachable", returncode=3)
    yield
    SCRATCH.drop_all()


@pytest.fixture
def postgres_url() -> str:
    """A fresh database on the Postgres server, for tests that need Postgres on either backend
    (skipped when no server is reachable, except in the Postgres run, where that is fatal)."""
    if not SCRATCH.reachable():
        pytest.skip(f"no Postgres server at {SCRATCH.admin_url}")
    return SCRATCH.create("pg")


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request, tmp_path) -> Warehouse:
    """An empty warehouse on each backend in turn, whatever the suite's backend: the storage
    promises hold on both (the Postgres case is skipped when no server is reachable)."""
    if request.param == "duckdb":
        return Warehouse(url=f"duckdb:///{tmp_path / 'w.duckdb'}")
    if not SCRATCH.reachable():
        pytest.skip(f"no Postgres server at {SCRATCH.admin_url}")
    return Warehouse(url=SCRATCH.create("wh"))


def make_settings(home: Path, **overrides) -> Settings:
    if BACKEND == "postgres":
        storage = dict(
            warehouse_url=SCRATCH.create("warehouse"),
            mlflow_tracking_uri=sqlalchemy_url(SCRATCH.create("mlflow")),
            mlflow_artifact_root=(home / "mlartifacts").as_uri(),
        )
    else:
        storage = dict(
            warehouse_url=f"duckdb:///{home / 'warehouse.duckdb'}",
            mlflow_tracking_uri=f"sqlite:///{home / 'mlflow.db'}",
        )
    # The global LightGBM model with few rounds: tests check behaviour, not accuracy. Baselines in
    # the step's own process: a process pool's start-up costs more than a test client's fits
    # (tests/test_baselines_parallel.py checks that every core gives the same forecasts).
    fast = dict(global_model_rounds=30, global_model_conformal_windows=2, baseline_n_jobs=1)
    values = dict(home=home, landing_dir=home / "landing", **fast, **storage)
    values.update(overrides)
    return Settings(**values)


_INSTANCE_DB: dict[str, str] = {}


def make_instance(home: Path) -> DagsterInstance:
    """The Dagster instance a flow test runs on: ephemeral by default; on Postgres, the repo's
    dagster.postgres.yaml (as the CLI writes it) on one scratch database shared by the session."""
    if BACKEND != "postgres":
        return DagsterInstance.ephemeral()
    if not _INSTANCE_DB:
        _INSTANCE_DB["url"] = SCRATCH.create("dagster")
        parts = postgres_parts(_INSTANCE_DB["url"])
        os.environ.update(
            DAGSTER_PG_HOST=parts["host"],
            DAGSTER_PG_PORT=parts["port"],
            DAGSTER_PG_USER=parts["user"],
            DAGSTER_PG_PASSWORD=parts["password"],
            DAGSTER_PG_DB=parts["dbname"],
        )
    config = prepare_dagster_home(home / "dagster_home")
    return DagsterInstance.from_config(str(config.parent))


@pytest.fixture
def landing(tmp_path) -> Path:
    folder = tmp_path / "landing"
    write_demo_landing(folder, clients=SMALL_CLIENTS, end_date=END, history_days=160)
    return folder


@pytest.fixture(autouse=True)
def _no_stale_defs_state_storage():
    """An earlier test's Dagster instance can stay registered as the process's current defs-state
    storage; once that instance is collected, the next Definitions load fails on its dead weakref
    ("Attempted to resolve undefined DagsterInstance weakref", seen intermittently in CI)."""
    from dagster._core.storage.defs_state.base import _current_storage

    _current_storage.set(None)
    yield
