"""Shared fixtures: small generated landing data, a random-weight Chronos-2, per-test storage."""

import datetime as dt
import os
from pathlib import Path

# The hub is unreachable here: fail model downloads at once instead of retrying for ~20 s.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from forecast_assets.core.sample_data import DemoClient, write_demo_landing
from forecast_assets.core.tiny_chronos import save_tiny_chronos2
from forecast_assets.settings import Settings

SMALL_CLIENTS = (
    DemoClient("shop_a", n_items=6, sales_format="csv", base_level=20.0, seed=5),
    DemoClient("shop_b", n_items=4, sales_format="parquet", base_level=6.0, seed=9),
)
END = dt.date(2026, 10, 31)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return save_tiny_chronos2(tmp_path_factory.mktemp("chronos") / "tiny-chronos-2")


def make_settings(home: Path, **overrides) -> Settings:
    values = dict(
        home=home,
        landing_dir=home / "landing",
        warehouse_url=f"duckdb:///{home / 'warehouse.duckdb'}",
        mlflow_tracking_uri=f"sqlite:///{home / 'mlflow.db'}",
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def landing(tmp_path) -> Path:
    folder = tmp_path / "landing"
    write_demo_landing(folder, clients=SMALL_CLIENTS, end_date=END, history_days=160)
    return folder
