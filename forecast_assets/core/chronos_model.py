"""The Chronos-2 adapter: loading the model, building its input frames, calling ``predict_df``.

Chronos-2 reads covariates from the frames it is given: columns only in the context frame are
past-only, columns in both frames are known in the future. Flags are fed as 0/1 floats because
Chronos target-encodes booleans and strings. Stock-out days are missing demand (NaN), not zero.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from forecast_assets.core.forecast_frame import finalize_forecast
from forecast_assets.settings import quantile_column

log = logging.getLogger(__name__)

PAST_COVARIATES = ("price", "is_stockout")
FUTURE_COVARIATES = (
    "promo_flag",
    "promo_discount",
    "is_holiday",
    "days_to_holiday",
    "is_weekend",
    "planned_price",
)


class ModelUnavailable(RuntimeError):
    """The model could not be loaded; the message names the model id, the cause and the remedy."""


def resolve_device(setting: str) -> str:
    """``auto`` picks CUDA when a GPU is visible, else the CPU."""
    import torch

    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if setting == "cuda" and not torch.cuda.is_available():
        raise ModelUnavailable("CHRONOS_DEVICE=cuda but no CUDA device is visible to torch")
    return setting


def model_name(model_id: str) -> str:
    """The short model name stored in the ``model`` column (the full id is stored too)."""
    return "chronos-bolt" if "chronos-bolt" in model_id else "chronos-2"


def load_pipeline(model_id: str, device: str = "auto", dtype: str = "float32"):
    """Load a Chronos pipeline from a hub id or a local directory, or raise :class:`ModelUnavailable`."""
    import torch
    from chronos import BaseChronosPipeline, Chronos2Pipeline

    resolved = resolve_device(device)
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    cls = BaseChronosPipeline if "chronos-bolt" in model_id else Chronos2Pipeline
    try:
        return cls.from_pretrained(model_id, device_map=resolved, dtype=torch_dtype)
    except Exception as exc:
        local = Path(model_id).exists()
        remedy = (
            "check that the directory holds config.json and model weights saved by save_pretrained"
            if local
            else "set CHRONOS_MODEL_ID to a local directory holding the model (for example one "
            "downloaded with `huggingface-cli download amazon/chronos-2` on a connected machine)"
        )
        raise ModelUnavailable(
            f"Chronos model '{model_id}' could not be loaded: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}. Remedy: {remedy}"
        ) from exc


@dataclass(frozen=True)
class ChronosFrames:
    context: pd.DataFrame
    future: pd.DataFrame


def build_frames(
    demand: pd.DataFrame, calendar: pd.DataFrame, cutoff: pd.Timestamp, horizon: int
) -> ChronosFrames:
    """Context (history up to ``cutoff``) and future (the next ``horizon`` days) frames.

    ``demand`` has item_id, date, units_sold, price, is_stockout; ``calendar`` has item_id, date and
    the known-future covariates for history and horizon. Nothing after ``cutoff`` reaches the
    context frame, so backtests cannot peek.
    """
    cutoff = pd.Timestamp(cutoff)
    history = demand[demand["date"] <= cutoff].copy()
    history["target"] = history["units_sold"].astype(float).where(history["is_stockout"] == 0)
    cal = calendar[["item_id", "date", *FUTURE_COVARIATES]]
    context = history[["item_id", "date", "target", *PAST_COVARIATES]].merge(
        cal, on=["item_id", "date"], how="left"
    )
    end = cutoff + pd.Timedelta(days=horizon)
    future = cal[
        (cal["date"] > cutoff) & (cal["date"] <= end) & cal["item_id"].isin(history["item_id"])
    ].copy()
    for frame in (context, future):
        for column in frame.columns:
            if column not in ("item_id", "date"):
                frame[column] = frame[column].astype(float)
    return ChronosFrames(
        context=context.sort_values(["item_id", "date"]).reset_index(drop=True),
        future=future.sort_values(["item_id", "date"]).reset_index(drop=True),
    )


def predict(
    pipeline,
    frames: ChronosFrames,
    cutoff: pd.Timestamp,
    horizon: int,
    quantiles: tuple[float, ...],
    batch_size: int = 256,
    context_length: int | None = None,
    model: str = "chronos-2",
) -> pd.DataFrame:
    """Run ``predict_df`` and return the long forecast format (see :mod:`forecast_frame`)."""
    raw = pipeline.predict_df(
        frames.context,
        future_df=frames.future,
        id_column="item_id",
        timestamp_column="date",
        target="target",
        prediction_length=horizon,
        quantile_levels=list(quantiles),
        batch_size=batch_size,
        context_length=context_length,
    )
    renamed = raw.rename(columns={str(q): quantile_column(q) for q in quantiles})
    renamed["point"] = renamed[quantile_column(0.5)]
    return finalize_forecast(renamed, model, quantiles, cutoff)
