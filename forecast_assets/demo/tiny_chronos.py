"""Small Chronos-2 and Chronos-Bolt models with random weights, saved like real ones.

The hub is unreachable on the development machines, so tests and demos of the Chronos code path
build this model from ``Chronos2CoreConfig`` and load it back through the same
``Chronos2Pipeline.from_pretrained`` call production uses: real code, real tensors, meaningless
numbers. :data:`CHRONOS2_BASE` holds the published dimensions of amazon/chronos-2 for
benchmarks that need the real compute cost.
"""

from pathlib import Path

QUANTILES_21 = [
    0.01,
    0.05,
    0.1,
    0.15,
    0.2,
    0.25,
    0.3,
    0.35,
    0.4,
    0.45,
    0.5,
    0.55,
    0.6,
    0.65,
    0.7,
    0.75,
    0.8,
    0.85,
    0.9,
    0.95,
    0.99,
]
TINY = {"d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 1, "num_heads": 4}
CHRONOS2_BASE = {"d_model": 768, "d_kv": 64, "d_ff": 3072, "num_layers": 12, "num_heads": 12}


def save_tiny_chronos2(directory: Path, dims: dict[str, int] | None = None, seed: int = 0) -> Path:
    """Build a random-weight Chronos-2 with ``dims`` (default tiny) and ``save_pretrained`` it."""
    import torch
    from chronos.chronos2 import Chronos2CoreConfig, Chronos2Model

    config = Chronos2CoreConfig(
        **(dims or TINY),
        chronos_config={
            "context_length": 8192,
            "input_patch_size": 16,
            "output_patch_size": 16,
            "input_patch_stride": 16,
            "quantiles": QUANTILES_21,
            "use_reg_token": True,
            "use_arcsinh": True,
            "max_output_patches": 64,
        },
    )
    config.architectures = ["Chronos2Model"]
    # As in the published config.json: BaseChronosPipeline dispatches on this name.
    config.chronos_pipeline_class = "Chronos2Pipeline"
    torch.manual_seed(seed)
    model = Chronos2Model(config)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    return directory


def save_tiny_chronos_bolt(directory: Path, seed: int = 0) -> Path:
    """A random-weight Chronos-Bolt (T5 encoder-decoder) saved like amazon/chronos-bolt-*."""
    import torch
    from chronos.chronos_bolt import ChronosBoltModelForForecasting
    from transformers import T5Config

    config = T5Config(
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=4,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
        chronos_config={
            "context_length": 2048,
            "prediction_length": 64,
            "input_patch_size": 16,
            "input_patch_stride": 16,
            "quantiles": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
            "use_reg_token": True,
        },
        chronos_pipeline_class="ChronosBoltPipeline",
        architectures=["ChronosBoltModelForForecasting"],
    )
    torch.manual_seed(seed)
    model = ChronosBoltModelForForecasting(config)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    return directory
