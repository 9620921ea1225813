"""Holdout evaluation and the champion model per item.

Each model forecasts the last ``horizon`` days before ``as_of`` from data up to the cutoff
``as_of - horizon``; those forecasts are scored against what actually sold. The champion of an
item is the model with the lowest MAE on that holdout (per item MAE ranks exactly like per item
WAPE, and stays defined for items that sold nothing). Items no model could be scored on fall back
to the first available model in :data:`FALLBACK_ORDER`.
"""

from __future__ import annotations

import pandas as pd

from forecast_assets.core.metrics import score_backtest, seasonal_scale

FALLBACK_ORDER = (
    "chronos-2",
    "chronos-bolt",
    "auto_ets",
    "seasonal_naive",
    "moving_average_7",
    "historic_average",
)


def evaluate_holdout(backtest: pd.DataFrame, demand: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Accuracy per model and item of ``backtest`` forecasts against ``demand`` actuals.

    Stock-out days are left out of the score: the shelf was empty, so what sold is not demand.
    """
    actuals = demand[["item_id", "date", "units_sold", "is_stockout"]].rename(
        columns={"units_sold": "actual"}
    )
    scored = backtest.merge(actuals, on=["item_id", "date"], how="inner")
    scored = scored[scored["is_stockout"] == 0]
    train = demand[demand["date"] <= pd.Timestamp(cutoff)].sort_values(["item_id", "date"])
    scales = train.groupby("item_id")["units_sold"].apply(seasonal_scale)
    if scored.empty:
        return pd.DataFrame(
            columns=["level", "model", "item_id", "n_obs", "mae", "rmse", "bias", "wape", "mase"]
        )
    return score_backtest(scored, scales)


def choose_champions(
    accuracy: pd.DataFrame, items: list[str], available_models: dict[str, set[str]]
) -> pd.DataFrame:
    """One champion per item: lowest holdout MAE among models that forecast the item now.

    ``available_models`` maps item_id to the models with a future forecast for it, so a champion
    always has a forecast to serve.
    """
    per_item = accuracy[accuracy["level"] == "item"]
    rows = []
    for item in items:
        candidates = available_models.get(item, set())
        scored = per_item[(per_item["item_id"] == item) & per_item["model"].isin(candidates)]
        scored = scored.dropna(subset=["mae"])
        if not scored.empty:
            best = scored.sort_values(["mae", "model"]).iloc[0]
            rows.append(
                {
                    "item_id": item,
                    "champion_model": best["model"],
                    "selection_metric": "mae",
                    "selection_score": float(best["mae"]),
                    "reason": "lowest holdout MAE",
                }
            )
            continue
        fallback = next((m for m in FALLBACK_ORDER if m in candidates), None)
        rows.append(
            {
                "item_id": item,
                "champion_model": fallback,
                "selection_metric": "mae",
                "selection_score": None,
                "reason": "no holdout score: fallback order",
            }
        )
    return pd.DataFrame(rows)


def with_champions(accuracy: pd.DataFrame, champions: pd.DataFrame) -> pd.DataFrame:
    """One evaluation table: accuracy rows flagged ``is_champion``, plus a row for each champion
    chosen without a holdout score (so every item's champion is in the table)."""
    marked = accuracy.merge(
        champions.rename(columns={"champion_model": "model", "reason": "champion_reason"})[
            ["item_id", "model", "champion_reason"]
        ],
        on=["item_id", "model"],
        how="left",
    )
    marked["is_champion"] = marked["champion_reason"].notna()
    unscored = champions[
        ~champions.set_index(["item_id", "champion_model"]).index.isin(
            accuracy.set_index(["item_id", "model"]).index
        )
        & champions["champion_model"].notna()
    ]
    extra = pd.DataFrame(
        {
            "level": "item",
            "model": unscored["champion_model"],
            "item_id": unscored["item_id"],
            "n_obs": 0,
            "champion_reason": unscored["reason"],
            "is_champion": True,
        }
    )
    return pd.concat([marked, extra], ignore_index=True) if not extra.empty else marked
