"""The statsforecast baselines fitted on a Ray cluster: Ray tasks over item slices.

A client too large for one machine's cores spreads its baseline fits over a Ray cluster (KubeRay
on Kubernetes, a local cluster on one machine or in tests). Every baseline model is fitted per
item, and what :func:`~forecast_assets.core.forecasting.baselines.forecast_baselines` decides for
an item (its model group by history length and demand class, its stock-out imputation) reads
only that item's rows, so the union of the results of disjoint item slices is the result of the
whole client: the same pure function runs in each Ray task with ``n_jobs=1``, and Ray does the
scheduling, retries and data movement. No pool, queue or scheduler of our own.

Each slice's demand is put in Ray's object store once and shared by the tasks of every origin,
so a backtest origin costs a task per slice, not another copy of the data.

Why not statsforecast's own distributed path: it goes through fugue, which adds another engine
layer and version pins on Ray, for the same per-item work these tasks do.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pandas as pd

from forecast_assets.core.forecasting.baselines import (
    HISTORY_DAYS,
    BaselineResult,
    forecast_baselines,
    item_slices,
    merge_results,
)

__all__ = ["forecast_baselines_on_ray", "item_slices", "merge_results", "ray_connection"]

# Tasks per CPU of the cluster for each origin: more than one evens out slices whose items are
# slower (long, seasonal) than others; few enough that a task's overhead (milliseconds) is noise
# beside its fits (about 0.1-0.3 s per item and origin for AutoETS and AutoTheta).
SLICES_PER_CPU = 2
MIN_SLICE_ITEMS = 10


@contextmanager
def ray_connection(address: str) -> Iterator[None]:
    """Ray connected for the duration of the block.

    ``address`` is Ray's own: ``"local"`` starts a Ray cluster on this machine for the block,
    ``ray://host:10001`` connects a client to a remote head (a KubeRay ``RayCluster``), ``auto``
    joins the cluster this machine is a node of. A connection already open in this process (a
    test's local cluster, an earlier caller's) is used as it is and left open; one opened here is
    shut down on exit, so a Dagster step leaves no Ray processes behind.
    """
    import ray

    if ray.is_initialized():
        yield
        return
    # A cluster started here needs no dashboard; a cluster joined keeps its own settings.
    options = {"include_dashboard": False} if address == "local" else {}
    ray.init(address=address, log_to_driver=False, **options)
    try:
        yield
    finally:
        ray.shutdown()


def forecast_baselines_on_ray(
    demand: pd.DataFrame,
    cutoffs: Sequence[pd.Timestamp],
    horizon: int,
    quantiles: tuple[float, ...],
    min_history_days: int,
    address: str,
    min_slice_items: int = MIN_SLICE_ITEMS,
    history_days: int = HISTORY_DAYS,
) -> list[BaselineResult]:
    """:func:`forecast_baselines` of every cutoff, fitted by Ray tasks over item slices.

    Returns one result per cutoff, in the order given, each equal (to floating-point tolerance,
    rows ordered by model, item and date) to a local call over all items. Every task of every
    cutoff is submitted before any is awaited, so the cluster is busy across origins. A slice
    holds at least ``min_slice_items`` items (fewer slices for a small client).
    """
    import ray

    with ray_connection(address):
        cpus = int(ray.cluster_resources().get("CPU", 1))
        n_items = demand["item_id"].nunique()
        n_slices = max(1, min(cpus * SLICES_PER_CPU, n_items // min_slice_items))
        fit = ray.remote(num_cpus=1)(forecast_baselines)
        item_key = demand["item_id"].astype(str)
        refs = [
            ray.put(demand[item_key.isin(ids)]) for ids in item_slices(demand["item_id"].unique(), n_slices)
        ]
        pending = [
            [fit.remote(ref, cutoff, horizon, quantiles, min_history_days, 1, history_days) for ref in refs]
            for cutoff in cutoffs
        ]
        return [merge_results(ray.get(tasks)) for tasks in pending]
