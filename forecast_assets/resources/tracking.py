"""MLflow tracking: an experiment per client, a run per forecast materialization."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from dagster import ConfigurableResource

from forecast_assets.core.clients import validate_client_key
from forecast_assets.urls import sqlalchemy_url


class MlflowTracking(ConfigurableResource):
    """Where runs are logged. ``tracking_uri`` defaults to a local SQLite file; Postgres
    (``postgresql+psycopg2://...``) and an MLflow server (``http://...``) work the same way.

    ``artifact_root`` is where a new client experiment keeps its artifacts. It is explicit for
    a database store (see :attr:`Settings.mlflow_artifact_location`), which would otherwise
    write under ``./mlruns`` of whatever directory the process happens to run in.
    """

    tracking_uri: str
    artifact_root: str | None = None

    def _client(self):
        import mlflow

        mlflow.set_tracking_uri(sqlalchemy_url(self.tracking_uri))
        return mlflow

    @contextmanager
    def run(self, client_id: str, run_name: str, tags: dict[str, str]) -> Iterator[object]:
        """Start a run in the client's experiment (``forecast-assets/<client>``)."""
        mlflow = self._client()
        experiment = f"forecast-assets/{validate_client_key(client_id)}"
        if mlflow.get_experiment_by_name(experiment) is None:
            artifact_root = self.artifact_root
            if artifact_root is None and self.tracking_uri.startswith("sqlite:///"):
                artifact_root = (
                    Path(self.tracking_uri.removeprefix("sqlite:///")).parent / "mlartifacts"
                ).as_uri()
            mlflow.create_experiment(experiment, artifact_location=artifact_root)
        mlflow.set_experiment(experiment)
        with mlflow.start_run(run_name=run_name, tags=tags) as active:
            yield active

    def log_frame(self, frame: pd.DataFrame, name: str) -> None:
        """Log a DataFrame as a Parquet artifact of the active run."""
        mlflow = self._client()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}.parquet"
            frame.to_parquet(path, index=False)
            mlflow.log_artifact(str(path))
