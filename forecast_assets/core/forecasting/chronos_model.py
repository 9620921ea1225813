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


# Joins an item id and its origin into one series id while all origins go through one call.
_ORIGIN_SEP = "\x1f@"


def predict_origins(
    pipeline,
    frames_by_origin: Sequence[tuple[pd.Timestamp, ChronosFrames]],
    horizon: int,
    quantiles: tuple[float, ...],
    batch_size: int = 256,
    context_length: int | None = None,
    cross_learning: bool = False,
) -> list[pd.DataFrame]:
    """:func:`predict` of every origin, in one ``predict_df`` call where that is sound.

    Why: a slice forecast from ``as_of`` and three backtest cutoffs is four calls of a quarter
    of the batch each; as one call (each item and origin a series of its own, with its own
    context end) the model sees full batches (issue 16). Without cross-learning every series is
    forecast alone, so the result is that of one call per origin. With ``cross_learning`` a
    batch shares information across its series, and a later origin's context holds what
    happened after an earlier cutoff: the origins then go through separate calls, so no
    backtest sees past its cutoff. Returns one forecast per origin, in the order given.
    """
    frames_by_origin = [(pd.Timestamp(c), f) for c, f in frames_by_origin]

    def alone(cutoff: pd.Timestamp, frames: ChronosFrames) -> pd.DataFrame:
        return predict(pipeline, frames, cutoff, horizon, quantiles, batch_size, context_length,
                       cross_learning, validate_inputs=False)  # fmt: skip

    present = [(c, f) for c, f in frames_by_origin if not f.context.empty]
    if cross_learning or len(present) < 2:
        return [alone(cutoff, frames) for cutoff, frames in frames_by_origin]

    def tag(cutoff: pd.Timestamp) -> str:
        return _ORIGIN_SEP + cutoff.strftime("%Y%m%d")

    def tagged(frame: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
        return frame.assign(item_id=frame["item_id"].astype(str) + tag(cutoff))

    combined = ChronosFrames(
        context=pd.concat([tagged(f.context, c) for c, f in present], ignore_index=True),
        future=pd.concat([tagged(f.future, c) for c, f in present], ignore_index=True),
        future_covariates=present[0][1].future_covariates,
    )
    raw = alone(present[0][0], combined)
    columns = ["item_id", "date", "point", *map(quantile_column, quantiles)]
    out = []
    for cutoff, frames in frames_by_origin:
        if frames.context.empty:
            out.append(alone(cutoff, frames))
            continue
        mine = raw[raw["item_id"].str.endswith(tag(cutoff))]
        mine = mine.assign(item_id=mine["item_id"].str.removesuffix(tag(cutoff)))
        out.append(finalize_forecast(mine[columns], model_name(pipeline), quantiles, cutoff))
    return out
