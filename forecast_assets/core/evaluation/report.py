"""What an evaluation run logs and reports, as plain values: MLflow params and metrics, charts,
asset metadata and the drift checks' metadata.

Kept out of the asset body so it reads load -> core -> write -> report, and so the keys a
dashboard or an MLflow query reads can be checked without Dagster or MLflow.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pandas as pd

from forecast_assets.core.evaluation.client import ChampionRule, ClientEvaluation
from forecast_assets.core.evaluation.drift import DriftResult
from forecast_assets.core.evaluation.plots import accuracy_bar_chart, fan_chart

# The client-level accuracy columns shown in the asset's metadata.
HEADLINE_METRICS = ["wape", "mase", "wql", "coverage_80", "fva"]


def evaluation_run_params(
    evaluation: ClientEvaluation,
    horizon: int,
    quantiles: Sequence[float],
    backtest_step_days: int,
    rule: ChampionRule,
) -> dict[str, object]:
    """The MLflow params of an evaluation run."""
    return {
        "as_of": str(evaluation.as_of.date()),
        "horizon": horizon,
        "quantiles": ",".join(map(str, quantiles)),
        "backtest_windows": len(evaluation.backtest_cutoffs),
        "backtest_step_days": backtest_step_days,
        "champion_metric": rule.metric,
        "champion_margin": rule.margin,
        "champion_scope": rule.scope,
        "models": ",".join(evaluation.models),
    }


def drift_share(result: DriftResult) -> float:
    """The share of drifted columns (0 when the check could not run)."""
    return float(result.summary.get("share_drifted", 0.0) or 0.0)


def mlflow_name(model: str) -> str:
    """A model name in the characters MLflow allows in a metric name (letters, digits, ``_-. :/``)."""
    return re.sub(r"[^A-Za-z0-9_\-. :/]+", ":", model).strip(":")


def evaluation_metrics(evaluation: ClientEvaluation, metrics: Sequence[str]) -> dict[str, float]:
    """The MLflow metrics: every client-level metric per model (``<metric>_<model>``), and the
    drifted share of each drift check (``<check>_share``). MLflow admits only some characters
    in a name, so an ensemble's ``ensemble_median(a+b)`` is logged as ``ensemble_median:a:b``."""
    out = {
        f"{metric}_{mlflow_name(model)}": float(row[metric])
        for model, row in evaluation.client_rows.iterrows()
        for metric in metrics
        if pd.notna(row[metric])
    }
    out |= {f"{name}_share": drift_share(result) for name, result in evaluation.drift.items()}
    return out


def evaluation_charts(client_id: str, demand: pd.DataFrame, evaluation: ClientEvaluation, top_n: int) -> dict:
    """PNG charts by artifact name: the champion's fan chart and backtest accuracy by model."""
    return {
        "fan_chart": fan_chart(
            demand, evaluation.champion_forecast, top_n=top_n, title=f"{client_id}: champion forecast"
        ),
        "accuracy_by_model": accuracy_bar_chart(
            evaluation.accuracy, title=f"{client_id}: backtest accuracy by model"
        ),
    }


def champion_changes(champions: pd.DataFrame) -> int:
    """Items whose champion differs from the previous one (items new to the client not counted)."""
    previous = champions["previous_champion"]
    return int((previous.notna() & (previous != champions["champion_model"])).sum())


def evaluation_summary(evaluation: ClientEvaluation) -> dict[str, Any]:
    """The asset metadata that is plain values; ``accuracy_by_model`` is markdown text and
    ``champion_counts`` a mapping (the caller marks them as such)."""
    live = evaluation.live
    return {
        "as_of": str(evaluation.as_of.date()),
        "backtest_cutoffs": ", ".join(str(c.date()) for c in evaluation.backtest_cutoffs),
        "accuracy_by_model": evaluation.client_rows[HEADLINE_METRICS].round(3).to_markdown(),
        "champion_counts": evaluation.champions["champion_model"].value_counts().to_dict(),
        "champion_changes": champion_changes(evaluation.champions),
        "live_origins_scored": int(live["as_of"].nunique()) if not live.empty else 0,
    }


def drift_check_metadata(name: str, result: DriftResult, mlflow_run_id: str) -> dict[str, object]:
    """What a drift check reports, with where its full Evidently report is."""
    summary = result.summary
    drifted = [c for c, v in (summary.get("columns") or {}).items() if v.get("drifted")]
    return {
        "status": str(summary.get("status", "")),
        "share_drifted": drift_share(result),
        "drifted_columns": ", ".join(drifted) or "none",
        "reason": str(summary.get("reason", "")),
        "report": f"MLflow run {mlflow_run_id}, artifact evaluation/{name}.html",
    }
