"""MLflow tracking: an experiment per client, a run per forecast materialization."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pandas as pd
from dagster import ConfigurableResource

from forecast_assets.core.clients import validate_client_key
from forecast_assets.urls import sqlalchemy_url


class MlflowTracking(ConfigurableResource):
    """Where runs are logged. ``tracking_uri`` defaults to a local SQLite file; Postgres
    (``postgresql+psycopg2://...``) and an MLflow server (``http://...``) work the same way.

    ``artifact_root`` is where a new client experiment keeps its artifacts, always
    :attr:`Settings.mlflow_artifact_location` (explicit for a database store, which would
    otherwise write under ``./mlruns`` of whatever directory the process happens to run in;
    None leaves the choice to an MLflow server).
    """

    tracking_uri: str
    artifact_root: str | None

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
            mlflow.create_experiment(experiment, artifact_location=self.artifact_root)
        mlflow.set_experiment(experiment)
        with mlflow.start_run(run_name=run_name, tags=tags) as active:
            yield active

    def asset_run(
        self, asset: str, client_id: str, as_of: pd.Timestamp, dagster_run_id: str
    ) -> AbstractContextManager[object]:
        """The run of one asset materialization, named ``<asset> <as_of>`` and tagged with the
        asset, the client and the Dagster run, so an MLflow run leads back to its Dagster run."""
        tags = {"asset": asset, "client_id": client_id, "dagster_run_id": dagster_run_id}
        return self.run(client_id, f"{asset} {as_of.date()}", tags)

    def log_frame(self, frame: pd.DataFrame, name: str) -> None:
        """Log a DataFrame as a Parquet artifact of the active run."""
        mlflow = self._client()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}.parquet"
            frame.to_parquet(path, index=False)
            mlflow.log_artifact(str(path))
