"""MLflow tracking: an experiment per client, a run per forecast materialization.

A run describes a write: the asset writes its rows inside the ``asset_run`` block, so the run ends
after the write, FINISHED when the block completes and FAILED when anything in it raises (the
write included), never a successful run for rows that were not written.
"""

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

    def experiment_id(self, client_id: str) -> str:
        """The id of the client's experiment (``forecast-assets/<client>``), created if missing.

        Idempotent under races: two steps of a new client starting together both see no
        experiment and both create it; the loser's "already exists" error is answered by reading
        the winner's experiment.
        """
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode

        mlflow = self._client()
        name = f"forecast-assets/{validate_client_key(client_id)}"
        found = mlflow.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            return mlflow.create_experiment(name, artifact_location=self.artifact_root)
        except MlflowException as exc:
            if exc.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
                raise
            found = mlflow.get_experiment_by_name(name)
            if found is None:  # deleted meanwhile: nothing sensible to do but report it
                raise
            return found.experiment_id

    @contextmanager
    def run(self, client_id: str, run_name: str, tags: dict[str, str]) -> Iterator[object]:
        """A run in the client's experiment, ended when the block ends: FINISHED if it completes,
        FAILED (and the error re-raised) if anything in it raises."""
        mlflow = self._client()
        experiment_id = self.experiment_id(client_id)
        active = mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags)
        try:
            yield active
        except BaseException:
            mlflow.end_run(status="FAILED")
            raise
        mlflow.end_run(status="FINISHED")

    def asset_run(
        self, asset: str, client_id: str, as_of: pd.Timestamp, dagster_run_id: str
    ) -> AbstractContextManager[object]:
        """The run of one asset materialization, named ``<asset> <as_of>`` and tagged with the
        asset, the client and the Dagster run, so an MLflow run leads back to its Dagster run.
        Write the rows it describes inside the block: the run then ends after the write, and
        FAILED when the write fails."""
        tags = {"asset": asset, "client_id": client_id, "dagster_run_id": dagster_run_id}
        return self.run(client_id, f"{asset} {as_of.date()}", tags)

    def log_frame(self, frame: pd.DataFrame, name: str) -> None:
        """Log a DataFrame as a Parquet artifact of the active run."""
        mlflow = self._client()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}.parquet"
            frame.to_parquet(path, index=False)
            mlflow.log_artifact(str(path))
