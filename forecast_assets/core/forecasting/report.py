"""What a forecast run logs and reports, as plain values: MLflow params, asset metadata, problems.

Kept out of the asset bodies so those read load -> core -> write -> report, and so the keys a
dashboard, an MLflow query or a test reads can be checked without Dagster or MLflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from forecast_assets.core.forecasting.chronos_stream import StreamResult, StreamSpec
from forecast_assets.core.forecasting.frame import forecast_problems

Origins = Sequence[tuple[str, pd.Timestamp]]


def joined(values: Iterable[object]) -> str:
    """Values as one comma-separated MLflow param (MLflow params are strings)."""
    return ",".join(map(str, values))


def backtest_cutoffs_param(origins: Origins) -> str:
    """The backtest cutoffs of ``origins`` as dates, comma-separated."""
    return joined(cutoff.date() for kind, cutoff in origins if kind == "backtest")


def coverage_problems(items: Iterable[str], covered: Iterable[str]) -> list[str]:
    """A problem line when some items got no forecast at all (none otherwise)."""
    uncovered = set(items) - set(covered)
    if not uncovered:
        return []
    return [f"{len(uncovered)} items have no forecast, e.g. {sorted(uncovered)[:3]}"]


def exclusions_markdown(excluded: Mapping[str, str], limit: int = 20) -> str:
    """The first ``limit`` excluded items with their reason, as a markdown list."""
    return "\n".join(f"- {item}: {reason}" for item, reason in sorted(excluded.items())[:limit]) or "none"


def chronos_run_params(
    spec: StreamSpec, stream: StreamResult, *, model: str, dtype: str, device: str, uses_covariates: bool
) -> dict[str, object]:
    """The MLflow params of a Chronos run: what was forecast, with which model and inputs."""
    return {
        "model_id": spec.model_id,
        "model": model,
        "dtype": dtype,
        "device": device,
        "cross_learning": spec.cross_learning,
        "horizon": spec.horizon,
        "quantiles": joined(spec.quantiles),
        "context_length": spec.context_length,
        "as_of": str(spec.as_of.date()),
        "backtest_cutoffs": backtest_cutoffs_param(spec.origins),
        "items": len(spec.items),
        "items_excluded": len(stream.excluded_items),
        "covariates": joined(stream.covariates) if uses_covariates else "",
        "input_fingerprint": stream.fingerprint,
    }


def chronos_metadata(spec: StreamSpec, stream: StreamResult, rows: int, seconds: float) -> dict[str, object]:
    """The asset metadata of a Chronos run; ``exclusions`` is markdown text."""
    excluded = stream.excluded_items
    return {
        "model_status": "ok",
        "model_id": spec.model_id,
        "as_of": str(spec.as_of.date()),
        "items": len(spec.items),
        "items_excluded": len(excluded),
        "exclusions": exclusions_markdown(excluded),
        "chunks": stream.chunks,
        "rows": rows,
        "series_per_second": round(stream.series / seconds, 2) if seconds else 0.0,
        "model_share_of_time": round(stream.model_seconds / seconds, 3) if seconds else 0.0,
        "mlflow_run_id": spec.run_id,
    }


def stream_problems(spec: StreamSpec, stream: StreamResult) -> list[str]:
    """The sanity problems of the live forecast, plus items neither forecast nor excluded."""
    return [*stream.problems, *coverage_problems(spec.items, stream.covered | set(stream.excluded_items))]


def model_problems(
    future: pd.DataFrame, items: Iterable[str], horizon: int, quantiles: tuple[float, ...]
) -> list[str]:
    """Every model's live rows checked for the items it covers, plus items no model covers."""
    problems = []
    for model, group in future.groupby("model"):
        problems += [
            f"{model}: {p}" for p in forecast_problems(group, set(group["item_id"]), horizon, quantiles)
        ]
    return problems + coverage_problems(items, future["item_id"])


def baseline_run_params(
    models: Sequence[str], horizon: int, as_of: pd.Timestamp, origins: Origins, items: int, fingerprint: str
) -> dict[str, object]:
    """The MLflow params of a baselines run."""
    return {
        "models": joined(models),
        "horizon": horizon,
        "as_of": str(as_of.date()),
        "backtest_cutoffs": backtest_cutoffs_param(origins),
        "items": items,
        "input_fingerprint": fingerprint,
    }
