"""The Chronos adapter: loading a model once, and calling ``predict_df`` over batches of items.

Any Chronos id loads through ``BaseChronosPipeline.from_pretrained``, which picks the pipeline
class from the model's config: Chronos-2 gets the covariate frames, Chronos-Bolt (univariate)
gets the target only, and the covariates it cannot use are reported in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd

from forecast_assets.core.forecasting.chronos_frames import PAST_COVARIATES, ChronosFrames
from forecast_assets.core.forecasting.frame import finalize_forecast, quantile_column

log = logging.getLogger(__name__)


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


def load_pipeline(model_id: str, device: str = "auto", dtype: str = "float32"):
    """Load any Chronos pipeline from a hub id or a local directory, or raise :class:`ModelUnavailable`."""
    import torch
    from chronos import BaseChronosPipeline

    resolved = resolve_device(device)
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    try:
        return BaseChronosPipeline.from_pretrained(model_id, device_map=resolved, dtype=torch_dtype)
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


def supports_covariates(pipeline) -> bool:
    """Chronos-2 reads covariates; Chronos-Bolt and the original Chronos are univariate."""
    from chronos import Chronos2Pipeline

    return isinstance(pipeline, Chronos2Pipeline)


def model_name(pipeline) -> str:
    """The short model name stored in the ``model`` column (the full id goes in ``model_id``)."""
    name = type(pipeline).__name__
    return {"Chronos2Pipeline": "chronos-2", "ChronosBoltPipeline": "chronos-bolt"}.get(name, "chronos")


def item_chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    """Consecutive slices of ``items``: the unit read, predicted and written in one go."""
    for start in range(0, len(items), max(1, size)):
        yield list(items[start : start + max(1, size)])


def predict(
    pipeline,
    frames: ChronosFrames,
    cutoff: pd.Timestamp,
    horizon: int,
    quantiles: tuple[float, ...],
    batch_size: int = 256,
    context_length: int | None = None,
    cross_learning: bool = False,
    validate_inputs: bool = True,
) -> pd.DataFrame:
    """Forecast the items of ``frames`` and return the long forecast format (see :mod:`forecast_frame`).

    ``batch_size`` is predict_df's: rows per forward pass, where each item counts once for its
    target and once per covariate. ``validate_inputs=False`` skips predict_df's own checks and is
    only safe for frames that passed :func:`chronos_frames.build_frames`, which checks the same
    things (sorted, regular, future aligned) with messages naming the item and field.
    """
    if frames.context.empty:
        return finalize_forecast(
            pd.DataFrame(columns=["item_id", "date", "point", *map(quantile_column, quantiles)]),
            model_name(pipeline),
            quantiles,
            cutoff,
        )
    common = dict(
        id_column="item_id",
        timestamp_column="date",
        target="target",
        prediction_length=horizon,
        quantile_levels=list(quantiles),
        batch_size=batch_size,
        validate_inputs=validate_inputs,
        freq="D",
    )
    if supports_covariates(pipeline):
        raw = pipeline.predict_df(
            frames.context,
            future_df=frames.future,
            context_length=context_length,
            cross_learning=cross_learning,
            **common,
        )
    else:
        log.info(
            "%s is univariate: covariates %s are not used",
            type(pipeline).__name__,
            ", ".join((*PAST_COVARIATES, *frames.future_covariates)),
        )
        raw = pipeline.predict_df(frames.context[["item_id", "date", "target"]], **common)
    renamed = raw.rename(columns={str(q): quantile_column(q) for q in quantiles})
    renamed["point"] = renamed[quantile_column(0.5)]
    return finalize_forecast(renamed, model_name(pipeline), quantiles, cutoff)
