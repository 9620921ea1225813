"""The Chronos model as a resource: loaded lazily, once per process, shared by every asset call."""

from __future__ import annotations

import threading
from typing import Any

from dagster import ConfigurableResource

from forecast_assets.core.forecasting.chronos_model import load_pipeline

_CACHE: dict[tuple[str, str, str], Any] = {}
_LOCK = threading.Lock()


class ChronosModel(ConfigurableResource):
    """Settings of the forecasting model; :meth:`pipeline` loads it on first use.

    Every field is the ``chronos_``-prefixed Settings field of the same name, defaults included
    (filled by ``build_resources``): no default is written here.
    """

    model_id: str
    device: str
    dtype: str
    batch_size: int
    context_length: int
    required: bool
    cross_learning: bool
    chunk_items: int

    def pipeline(self):
        """The loaded pipeline; raises ``ModelUnavailable`` with the cause and remedy."""
        key = (self.model_id, self.device, self.dtype)
        with _LOCK:
            if key not in _CACHE:
                _CACHE[key] = load_pipeline(self.model_id, self.device, self.dtype)
            return _CACHE[key]
