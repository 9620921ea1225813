"""A retrospective forecast over a range of origins, through the real command line: one run per
origin, oldest first, each origin's forecasts and accuracy kept beside the others."""

import os
import subprocess
import sys

from forecast_assets.resources.warehouse import Warehouse
from forecast_assets.settings import REPO_ROOT

from .conftest import make_settings


def test_as_of_range_runs_every_origin(tmp_path, landing):
    settings = make_settings(tmp_path)  # the landing fixture wrote shop_a and shop_b under tmp_path
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_HOME")}
    env.update(
        FORECAST_HOME=str(tmp_path),
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
        LANDING_DIR=str(settings.landing_dir),
        WAREHOUSE_URL=settings.warehouse_url,
        MLFLOW_TRACKING_URI=settings.mlflow_tracking_uri,
        MLFLOW_ARTIFACT_ROOT=settings.mlflow_artifact_root,
        CHRONOS_MODEL_ID="amazon/chronos-2",  # unreachable here: the baselines carry the forecast
        HF_HUB_OFFLINE="1",
    )
    command = [sys.executable, "-m", "forecast_assets.cli", "run", "shop_b"]
    command += ["--as-of-range", "2026-10-10:2026-10-24", "--every-days", "14"]
    done = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.index("as_of=2026-10-10") < done.stdout.index("as_of=2026-10-24")

    warehouse = Warehouse(url=settings.warehouse_url)
    origins = warehouse.query(
        "select distinct cast(as_of as varchar) as as_of from ml.baseline_forecast "
        "where client_id = 'shop_b' and kind = 'forecast' order by 1"
    )["as_of"].to_list()
    assert origins == ["2026-10-10", "2026-10-24"]
    scored = warehouse.query(
        "select distinct cast(as_of as varchar) as as_of from analytics.fct_forecast_accuracy "
        "where client_id = 'shop_b' order by 1"
    )["as_of"].to_list()
    assert scored == ["2026-10-10", "2026-10-24"]
    served = warehouse.query(
        "select distinct cast(as_of as varchar) as as_of from analytics.fct_demand_forecast "
        "where client_id = 'shop_b'"
    )["as_of"].to_list()
    assert served == ["2026-10-24"]  # only retrospective runs: the latest of them is served
    # The command tags its runs retrospective (forecast-assets/retrospective=true).
    runs = warehouse.query(
        "select cast(as_of as varchar) as as_of, retrospective from ml.forecast_runs "
        "where client_id = 'shop_b' order by evaluated_at"
    ).rows()
    assert runs == [("2026-10-10", True), ("2026-10-24", True)]
