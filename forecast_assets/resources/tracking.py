"""MLflow tracking: an experiment per client, a run per forecast materialization."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from dagster import ConfigurableResource

from forecast_assets.clients import validate_client_key


class MlflowTracking(ConfigurableResource):
    """Where runs are logged. ``tracking_uri`` defaults to a local SQLite file."""

    tracking_uri: str

    def _client(self):
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        return mlflow

    @contextmanager
    def run(self, client_id: str, run_name: str, tags: dict[str, str]) -> Iterator[object]:
        """Start a run in the client's experiment (``forecast-assets/<client>``)."""
        mlflow = self._client()
        experiment = f"forecast-assets/{validate_client_key(client_id)}"
        if mlflow.get_experiment_by_name(experiment) is None:
            artifact_root = None
            if self.tracking_uri.startswith("sqlite:///"):
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
