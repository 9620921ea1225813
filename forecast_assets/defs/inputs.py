"""Reading one client's modelled inputs, and the forecast origin shared by the downstream assets."""

import pandas as pd
from dagster import Config

from forecast_assets.resources.warehouse import Warehouse

DEMAND_TABLE = "analytics.ts_demand_daily"
CALENDAR_TABLE = "analytics.covariate_calendar"


class ForecastRunConfig(Config):
    """Run config of the forecasting, evaluation and inventory assets.

    ``as_of`` is the forecast origin (the last date of data used), YYYY-MM-DD. Left empty it is
    the client's last day of data; set it to an earlier date for a retrospective run.
    """

    as_of: str | None = None


def load_demand(warehouse: Warehouse, client_id: str) -> pd.DataFrame:
    frame = warehouse.read_client(DEMAND_TABLE, client_id).to_pandas()
    if frame.empty:
        raise ValueError(
            f"client '{client_id}' has no rows in {DEMAND_TABLE}: did ingestion accept any sales?"
        )
    frame["date"] = pd.to_datetime(frame["date"])
    return frame.sort_values(["item_id", "date"]).reset_index(drop=True)


def load_calendar(warehouse: Warehouse, client_id: str) -> pd.DataFrame:
    frame = warehouse.read_client(CALENDAR_TABLE, client_id).to_pandas()
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def resolve_as_of(config: ForecastRunConfig, demand: pd.DataFrame) -> pd.Timestamp:
    """The forecast origin: the configured date, else the last date with data."""
    last = demand["date"].max()
    if not config.as_of:
        return pd.Timestamp(last)
    as_of = pd.Timestamp(config.as_of)
    if as_of > last:
        raise ValueError(f"as_of {as_of.date()} is after the last date with data ({last.date()})")
    return as_of
