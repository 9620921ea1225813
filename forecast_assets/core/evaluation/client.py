"""One client's evaluation at one forecast origin, computed in one call.

The evaluation asset reads the client's demand and forecasts, hands them here, and writes, logs
and reports what comes back: backtest accuracy per level with forecast value added, the
champions (per client or per item, against the incumbents), live accuracy of earlier origins,
and the demand and residual drift checks. Everything here is a function of its arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from forecast_assets.core.evaluation.champions import choose_champions, choose_client_champions
from forecast_assets.core.evaluation.drift import DriftResult, demand_drift, residual_drift
from forecast_assets.core.evaluation.metrics import accuracy_by_level
from forecast_assets.core.evaluation.plots import FAN_CHART_DAYS
from forecast_assets.core.evaluation.scoring import (
    baseline_accuracy,
    forecast_value_added,
    live_accuracy_by_origin,
    scored_rows,
    with_champions,
)


@dataclass(frozen=True)
class ChampionRule:
    """How champions are chosen: a lower-is-better ``metric``, the relative ``margin`` a
    challenger must win by, and the ``scope`` (one model per ``client``, or per ``item``)."""

    metric: str
    margin: float
    scope: str


@dataclass
class ClientEvaluation:
    """What one evaluation writes, logs and reports."""

    as_of: pd.Timestamp
    backtest_cutoffs: list[pd.Timestamp]
    models: list[str]
    scored: pd.DataFrame  # backtest rows with actuals and errors
    accuracy: pd.DataFrame  # per level (item, client, step) and model, with fva
    champions: pd.DataFrame
    table: pd.DataFrame  # accuracy flagged with the champions: ml.forecast_evaluation
    champion_forecast: pd.DataFrame  # each item's live forecast by its champion
    live: pd.DataFrame  # accuracy of earlier origins' live forecasts; empty when none
    drift: dict[str, DriftResult]  # demand_drift, residual_drift

    @property
    def client_rows(self) -> pd.DataFrame:
        """Client-level accuracy, one row per model."""
        return self.accuracy[self.accuracy["level"] == "client"].set_index("model")


def evaluation_window_start(
    as_of: pd.Timestamp,
    origins: Sequence[pd.Timestamp],
    drift_recent_days: int,
    chart_days: int = FAN_CHART_DAYS,
) -> pd.Timestamp:
    """The day before the first day of demand an evaluation reads: the actuals of every origin it
    scores (``origins``: the backtest cutoffs and the earlier live origins), both drift windows
    (``drift_recent_days`` each) and the fan chart's history. Only the seasonal scales reach
    further back, and they are computed over the whole history apart, so a client with years of
    history costs its recent weeks here, not all of its days."""
    as_of = pd.Timestamp(as_of)
    reach = max(2 * drift_recent_days, chart_days)
    return min([as_of - pd.Timedelta(days=reach), *(pd.Timestamp(o) for o in origins)])


def evaluate_client(
    demand: pd.DataFrame,
    forecasts: pd.DataFrame,
    earlier: Iterable[pd.DataFrame],
    incumbents: pd.DataFrame,
    as_of: pd.Timestamp,
    quantiles: tuple[float, ...],
    rule: ChampionRule,
    drift_recent_days: int,
    scales: pd.DataFrame | None = None,
) -> ClientEvaluation:
    """Score the backtest rows of ``forecasts`` (every model, one origin) against ``demand``,
    choose champions against ``incumbents`` among the models with a live forecast per item,
    score the ``earlier`` origins' live forecasts (one frame per origin, read one at a time), and
    check demand and residuals for drift.

    ``demand`` may hold only the days from :func:`evaluation_window_start` on, with ``scales``
    (item_id, cutoff, scale at every backtest cutoff and earlier origin) computed over the whole
    history; without ``scales`` they are computed from ``demand``.

    The backtest rows are scored once: the accuracy table and the residual drift check read the
    same rows. Client and step rows compare the models on common items (``n_items`` says how many)
    and FVA compares each row with the seasonal naive baseline on that row's own observations.
    """
    backtest = forecasts[forecasts["kind"] == "backtest"]
    future = forecasts[forecasts["kind"] == "forecast"]
    scored = scored_rows(backtest, demand, quantiles, scales=scales)
    accuracy = accuracy_by_level(scored, quantiles)
    fva = forecast_value_added(
        accuracy,
        rule.metric,
        levels=("item", "client", "step"),
        baseline_scores=baseline_accuracy(scored, quantiles),
    )
    accuracy["fva"] = fva["fva"].to_numpy() if len(fva) == len(accuracy) else float("nan")
    available = future.groupby("item_id")["model"].apply(set).to_dict()
    choose = choose_client_champions if rule.scope == "client" else choose_champions
    champions = choose(
        accuracy,
        sorted(demand["item_id"].unique()),
        available,
        metric=rule.metric,
        incumbents=incumbents,
        margin=rule.margin,
    )
    champion_forecast = future.merge(
        champions[["item_id", "champion_model"]],
        left_on=["item_id", "model"],
        right_on=["item_id", "champion_model"],
    )
    return ClientEvaluation(
        as_of=as_of,
        backtest_cutoffs=sorted(backtest["cutoff"].unique()),
        models=sorted(forecasts["model"].unique()),
        scored=scored,
        accuracy=accuracy,
        champions=champions,
        table=with_champions(accuracy, champions),
        champion_forecast=champion_forecast,
        live=live_accuracy_by_origin(earlier, demand, quantiles, scales),
        drift={
            "demand_drift": demand_drift(demand, as_of, recent_days=drift_recent_days),
            "residual_drift": residual_drift(scored, recent_days=drift_recent_days),
        },
    )
