"""MLflow runs end after the write they describe (FAILED when it fails), and a client's experiment
is created once even when several steps start together. Real MLflow on a local SQLite store (and on
Postgres where the server runs)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import mlflow
import pandas as pd
import polars as pl
import pytest
from mlflow.tracking import MlflowClient

from forecast_assets.resources.tracking import MlflowTracking
from forecast_assets.resources.warehouse import TableWrite, Warehouse
from forecast_assets.urls import sqlalchemy_url

from .backends import SCRATCH


@pytest.fixture
def tracking(tmp_path):
    return MlflowTracking(
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_root=(tmp_path / "art").as_uri()
    )


def _runs(tracking: MlflowTracking, client: str) -> pd.DataFrame:
    mlflow.set_tracking_uri(sqlalchemy_url(tracking.tracking_uri))
    return mlflow.search_runs(experiment_names=[f"forecast-assets/{client}"])


def test_a_failed_write_marks_the_run_failed(tracking, tmp_path):
    warehouse = Warehouse(url=f"duckdb:///{tmp_path / 'w.duckdb'}")
    bad = pl.DataFrame({"client_id": ["someone_else"], "x": [1]})
    with (
        pytest.raises(ValueError, match="another client"),
        tracking.asset_run("baseline_forecast", "shop_a", pd.Timestamp("2026-01-01"), "r1"),
    ):
        warehouse.replace_client_rows("shop_a", [TableWrite("ml.t", bad)])
    runs = _runs(tracking, "shop_a")
    assert runs["status"].tolist() == ["FAILED"]
    assert mlflow.active_run() is None


def test_a_run_ends_after_the_write_inside_it(tracking, tmp_path):
    warehouse = Warehouse(url=f"duckdb:///{tmp_path / 'w.duckdb'}")
    with tracking.asset_run("baseline_forecast", "shop_a", pd.Timestamp("2026-01-01"), "r1") as run:
        warehouse.replace_client_rows("shop_a", [TableWrite("ml.t", pl.DataFrame({"x": [1]}))])
        written_at = pd.Timestamp.now(tz="UTC")
        assert MlflowClient().get_run(run.info.run_id).info.status == "RUNNING"
    info = MlflowClient().get_run(run.info.run_id).info
    assert info.status == "FINISHED"
    assert pd.Timestamp(info.end_time, unit="ms", tz="UTC") >= written_at.floor("ms")
    assert mlflow.active_run() is None


def test_the_experiment_is_created_once_when_it_already_exists(tracking, monkeypatch):
    first = tracking.experiment_id("shop_a")
    assert tracking.experiment_id("shop_a") == first
    # The race's losing side: another process created it between our check and our create.
    mlflow.set_tracking_uri(sqlalchemy_url(tracking.tracking_uri))
    created = mlflow.create_experiment("forecast-assets/shop_b")
    real_get = mlflow.get_experiment_by_name
    calls = []

    def first_miss(name):  # the check ran before the other process's create
        calls.append(name)
        return None if len(calls) == 1 else real_get(name)

    monkeypatch.setattr(mlflow, "get_experiment_by_name", first_miss)
    assert tracking.experiment_id("shop_b") == created
    assert len(calls) == 2  # it did try to create, and read the winner's experiment


def test_concurrent_first_runs_of_a_client_share_one_experiment():
    """Eight steps of a new client start at once against one Postgres-backed MLflow store."""
    if not SCRATCH.reachable():
        pytest.skip("no Postgres server")
    tracking = MlflowTracking(tracking_uri=SCRATCH.create("mlflow_race"), artifact_root="file:///tmp/h14-art")
    tracking.experiment_id("warm_up")  # the store's schema, created once
    barrier = threading.Barrier(8)

    def start(k: int) -> str:
        barrier.wait()
        return tracking.experiment_id("shop_new")

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(start, range(8)))
    assert len(set(ids)) == 1
