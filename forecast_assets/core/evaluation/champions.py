"""The champion model per item (or per client), with a champion-challenger rule and its reason.

A challenger replaces the incumbent only when it beats it by a relative margin on the selection
metric, so the served model does not flip on noise between runs. Without an incumbent the best
model wins; items no model could be scored on keep their incumbent or fall back to the first
available model in :data:`FALLBACK_ORDER`, which also breaks ties.

The rule itself is :func:`decide_champion`, a pure function of one item's
:class:`ChampionSituation`, so every branch can be read in one place and tested as a table;
:func:`choose_champions` only gathers each item's situation from the accuracy table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast_assets.core.evaluation.metrics import LOWER_IS_BETTER

FALLBACK_ORDER = (
    "chronos-2",
    "chronos-bolt",
    "auto_ets",
    "seasonal_naive",
    "moving_average_7",
    "historic_average",
)
CLIENT_KEY = "__client__"
CHAMPION_COLUMNS = [
    "item_id",
    "champion_model",
    "selection_metric",
    "selection_score",
    "previous_champion",
    "challenger_model",
    "challenger_score",
    "improvement",
    "reason",
]
_LABELS = {"smape": "sMAPE"}
NAN = float("nan")


def metric_label(metric: str) -> str:
    """How a metric is named in a reason (``mae`` -> ``MAE``, ``smape`` -> ``sMAPE``)."""
    return _LABELS.get(metric, metric.upper())


def fallback_rank(model: str) -> int:
    """Position in :data:`FALLBACK_ORDER`; unknown models rank after every known one."""
    return FALLBACK_ORDER.index(model) if model in FALLBACK_ORDER else len(FALLBACK_ORDER)


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


@dataclass(frozen=True)
class ChampionSituation:
    """Everything the champion-challenger rule looks at for one item, as plain values.

    ``best`` is the best-ranked scored candidate (None when no candidate has a score);
    ``challenger`` the best-ranked scored candidate other than the incumbent. Scores are NaN
    where missing. ``label`` names the selection metric in the reason.
    """

    candidates: frozenset[str]
    best: str | None = None
    incumbent: str | None = None
    incumbent_score: float = NAN
    challenger: str | None = None
    challenger_score: float = NAN
    margin: float = 0.0
    label: str = "MAE"

    @property
    def improvement(self) -> float:
        """Relative error reduction of the challenger over the incumbent (0 when the incumbent's is 0)."""
        if not self.challenger or math.isnan(self.incumbent_score):
            return NAN
        if self.incumbent_score <= 0:
            return 0.0
        return (self.incumbent_score - self.challenger_score) / self.incumbent_score


def decide_champion(s: ChampionSituation) -> tuple[str | None, str]:
    """The champion-challenger decision table: (champion, reason) for one item's situation."""
    if s.best is None:
        if s.incumbent in s.candidates:
            return s.incumbent, f"no holdout score: kept incumbent {s.incumbent}"
        champion = next((m for m in FALLBACK_ORDER if m in s.candidates), None)
        if champion is None and s.candidates:
            champion = sorted(s.candidates)[0]
        return champion, "no holdout score: fallback order"
    if s.incumbent is None:
        return s.best, f"lowest holdout {s.label}"
    if s.incumbent not in s.candidates:
        return s.best, f"incumbent {s.incumbent} has no current forecast; lowest holdout {s.label}"
    if math.isnan(s.incumbent_score):
        return s.best, f"incumbent {s.incumbent} has no holdout {s.label}; lowest holdout {s.label}"
    if s.challenger is None:
        return s.incumbent, f"kept incumbent {s.incumbent}: no challenger scored"
    if s.challenger_score < s.incumbent_score:
        gain = f"{_pct(s.improvement)} better on {s.label}, margin {s.margin * 100:g}%"
        if s.improvement >= s.margin:
            return s.challenger, f"challenger {s.challenger} replaced incumbent {s.incumbent}: {gain}"
        return s.incumbent, f"kept incumbent {s.incumbent}: challenger {s.challenger} only {gain}"
    return s.incumbent, f"kept incumbent {s.incumbent}: lowest holdout {s.label}"


def _incumbent_map(incumbents: Mapping[str, str] | pd.DataFrame | None) -> dict[str, str]:
    if incumbents is None:
        return {}
    if isinstance(incumbents, pd.DataFrame):
        column = "champion_model" if "champion_model" in incumbents.columns else "model"
        frame = incumbents.dropna(subset=[column])
        return dict(zip(frame["item_id"], frame[column], strict=True))
    return {item: model for item, model in incumbents.items() if model}


def item_situation(
    scores: Mapping[str, float],
    candidates: set[str],
    incumbent: str | None,
    margin: float,
    label: str,
) -> ChampionSituation:
    """One item's situation from its models' scores (NaN or absent: not scored).

    Only candidates (models with a current forecast) rank; ties rank by :data:`FALLBACK_ORDER`,
    then by name.
    """
    ranked = [
        m
        for _, _, m in sorted(
            (scores[m], fallback_rank(m), m) for m in candidates if m in scores and not np.isnan(scores[m])
        )
    ]
    challenger = next((m for m in ranked if m != incumbent), None)
    return ChampionSituation(
        candidates=frozenset(candidates),
        best=ranked[0] if ranked else None,
        incumbent=incumbent,
        incumbent_score=scores.get(incumbent, NAN) if incumbent else NAN,
        challenger=challenger,
        challenger_score=scores[challenger] if challenger else NAN,
        margin=margin,
        label=label,
    )


def choose_champions(
    accuracy: pd.DataFrame,
    items: list[str],
    available_models: dict[str, set[str]],
    metric: str = "mae",
    incumbents: Mapping[str, str] | pd.DataFrame | None = None,
    margin: float = 0.0,
) -> pd.DataFrame:
    """One champion per item among the models that forecast the item now, with the reason.

    ``accuracy`` has ``level='item'`` rows with model, item_id and the ``metric`` column (lower is
    better: mae, rmse, wape, mape, smape, mase, wql, sql). ``available_models`` maps item_id to the
    models with a future forecast for it, so a champion always has a forecast to serve.
    ``incumbents`` maps item_id to the previous champion (a mapping, or a frame with item_id and
    champion_model); items without one get the best model. A challenger (the best-ranked other
    model) replaces an incumbent only if ``(incumbent - challenger) / incumbent >= margin`` and it
    is strictly better; ``margin=0.05`` asks for 5% less error. Ties rank by
    :data:`FALLBACK_ORDER`, then by name. Returns :data:`CHAMPION_COLUMNS`: item_id,
    champion_model, selection_metric, selection_score (the champion's score), previous_champion,
    challenger_model, challenger_score, improvement (relative, of the best challenger over the
    incumbent), reason.
    """
    metric = metric.lower()
    if metric not in LOWER_IS_BETTER:
        raise ValueError(f"champion metric must be one of {sorted(LOWER_IS_BETTER)}, got {metric!r}")
    if not 0 <= margin < 1:
        raise ValueError(f"champion margin must be in [0, 1), got {margin}")
    per_item = accuracy[accuracy["level"] == "item"] if "level" in accuracy.columns else accuracy
    if metric not in per_item.columns:
        per_item = per_item.assign(**{metric: np.nan})
    if per_item.duplicated(["item_id", "model"]).any():
        raise ValueError("accuracy has several item rows for one (item_id, model); pass one evaluation")
    scores: dict[str, dict[str, float]] = {}
    for r in per_item.itertuples(index=False):
        scores.setdefault(r.item_id, {})[r.model] = float(getattr(r, metric))
    incumbent_of = _incumbent_map(incumbents)
    label = metric_label(metric)

    rows = []
    for item in items:
        item_scores = scores.get(item, {})
        candidates = set(available_models.get(item, set()))
        s = item_situation(item_scores, candidates, incumbent_of.get(item), margin, label)
        champion, reason = decide_champion(s)
        champion_score = item_scores.get(champion, NAN) if champion else NAN
        rows.append(
            {
                "item_id": item,
                "champion_model": champion,
                "selection_metric": metric,
                "selection_score": None if np.isnan(champion_score) else champion_score,
                "previous_champion": s.incumbent,
                "challenger_model": s.challenger,
                "challenger_score": s.challenger_score,
                "improvement": s.improvement,
                "reason": reason,
            }
        )
    return pd.DataFrame(rows, columns=CHAMPION_COLUMNS)


def choose_client_champions(
    accuracy: pd.DataFrame,
    items: list[str],
    available_models: dict[str, set[str]],
    metric: str = "mae",
    incumbents: Mapping[str, str] | pd.DataFrame | None = None,
    margin: float = 0.0,
    min_coverage: float = 0.5,
) -> pd.DataFrame:
    """One champion model for the whole client, served to every item that has its forecast.

    Why: picking a model per item from a few backtest windows chases noise. On the M5 validation
    window (docs/accuracy.md) per-item choice cost 2-3% WAPE against the single best model, and
    even a 20% challenger margin did not recover it. So the models are ranked on the mean of
    their item-level ``metric`` over the items every candidate was scored on (candidates: models
    with a current forecast for at least ``min_coverage`` of the items), and the champion-challenger
    rule of :func:`choose_champions` runs once at the client level against the previous client
    champion (the most common previous item champion). Items the client champion does not
    forecast (e.g. too short for Chronos) get their own best model, with the reason said.
    Same columns as :func:`choose_champions`.
    """
    per_item = accuracy[accuracy["level"] == "item"] if "level" in accuracy.columns else accuracy
    coverage = pd.Series(
        [m for item in items for m in available_models.get(item, set())], dtype=object
    ).value_counts()
    candidates = set(coverage[coverage >= min_coverage * max(len(items), 1)].index)
    scored = per_item[per_item["model"].isin(candidates)].dropna(subset=[metric])
    common = set(items)
    for model in candidates:
        common &= set(scored.loc[scored["model"] == model, "item_id"])
    pooled = scored[scored["item_id"].isin(common)].groupby("model")[metric].mean()
    client_accuracy = pd.DataFrame(
        {"level": "item", "model": pooled.index, "item_id": CLIENT_KEY, metric: pooled.to_numpy()}
    )
    previous = _incumbent_map(incumbents)
    counts = pd.Series(list(previous.values()), dtype=object).value_counts()
    incumbent = None
    if len(counts):
        top = counts[counts == counts.max()].index
        incumbent = sorted(top, key=lambda m: (fallback_rank(m), m))[0]
    client = choose_champions(
        client_accuracy,
        [CLIENT_KEY],
        {CLIENT_KEY: candidates},
        metric=metric,
        incumbents={CLIENT_KEY: incumbent} if incumbent else None,
        margin=margin,
    ).iloc[0]
    model = client["champion_model"]
    per_item_choice = choose_champions(accuracy, items, available_models, metric=metric)
    rows = []
    for item in items:
        if model is not None and model in available_models.get(item, set()):
            row = client.to_dict() | {
                "item_id": item,
                "previous_champion": previous.get(item),
                "reason": f"client champion {model} ({client['reason']}, on {len(common)} common items)",
            }
        else:
            row = per_item_choice[per_item_choice["item_id"] == item].iloc[0].to_dict()
            row["reason"] = f"client champion {model} has no forecast for this item; {row['reason']}"
        rows.append(row)
    return pd.DataFrame(rows, columns=per_item_choice.columns)
