"""Plots for run artifacts (MLflow) and asset metadata: PNG bytes, optionally saved to a file.

- :func:`fan_chart`: for the largest items, the tail of the history, the median forecast and the
  10-90% band, the picture a planner needs to judge a probabilistic forecast at a glance.
- :func:`accuracy_bar_chart`: one bar per model for each chosen metric, client level.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot, no global state, no display),
so they are safe in worker processes and threads. Every text that carries data (item ids, model
names, titles) is drawn with ``parse_math=False``: a client's item id such as ``PROMO $x$`` is a
label, not math text (which would fail to parse and with it the whole evaluation).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from forecast_assets.core.forecasting.frame import quantile_column

FAN_CHART_DAYS = 56  # the history the fan chart shows before the forecast

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _to_png(figure: Figure, path: str | Path | None, dpi: int) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    data = buffer.getvalue()
    if path is not None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return data


def _empty(message: str, path: str | Path | None, dpi: int) -> bytes:
    figure = Figure(figsize=(6, 2.5))
    ax = figure.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", parse_math=False)
    return _to_png(figure, path, dpi)


def top_items(history: pd.DataFrame, n: int) -> list[str]:
    """The ``n`` items with the most units sold (ties by item id), largest first."""
    volume = history.groupby("item_id")["units_sold"].sum()
    ranked = sorted(volume.items(), key=lambda kv: (-float(kv[1]), str(kv[0])))
    return [item for item, _ in ranked[:n]]


def fan_chart(
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    top_n: int = 6,
    history_days: int = FAN_CHART_DAYS,
    band: tuple[float, float] = (0.1, 0.9),
    title: str | None = None,
    path: str | Path | None = None,
    dpi: int = 100,
) -> bytes:
    """Fan chart of the ``top_n`` items by volume: history tail, median forecast, 10-90% band.

    ``history`` has item_id, date, units_sold; ``forecast`` one row per (item_id, date) with
    point and, where available, the quantile columns (``q10``, ``q50``, ``q90``) and the model
    (shown in each panel's title: a champion forecast mixes models across items). The median is
    ``q50``, else ``point``; without both band quantiles no band is drawn. Returns PNG bytes.
    """
    if top_n < 1:
        raise ValueError(f"top_n must be >= 1, got {top_n}")
    if forecast.duplicated(["item_id", "date"]).any():
        raise ValueError("forecast has several rows for one (item_id, date): pass one model per item")
    items = top_items(history, top_n) if not history.empty else []
    extra = sorted(set(forecast["item_id"]) - set(items), key=str) if len(items) < top_n else []
    items = [*items, *extra][:top_n]
    if not items:
        return _empty("no data to plot", path, dpi)
    history = history.assign(date=pd.to_datetime(history["date"]))
    forecast = forecast.assign(date=pd.to_datetime(forecast["date"]))
    lo, mid, hi = quantile_column(band[0]), quantile_column(0.5), quantile_column(band[1])
    ncols = 1 if len(items) == 1 else 2
    nrows = math.ceil(len(items) / ncols)
    figure = Figure(figsize=(6.5 * ncols, 2.8 * nrows), layout="constrained")
    axes = np.atleast_1d(figure.subplots(nrows, ncols, squeeze=False).ravel())
    for ax, item in zip(axes, items, strict=False):
        past = history[history["item_id"] == item].sort_values("date")
        if not past.empty:
            past = past[past["date"] > past["date"].max() - pd.Timedelta(days=history_days)]
            ax.plot(past["date"], past["units_sold"], color="0.35", linewidth=1.0, label="history")
        future = forecast[forecast["item_id"] == item].sort_values("date")
        label = str(item)
        if not future.empty:
            median = future[mid] if mid in future and future[mid].notna().any() else future["point"]
            if lo in future and hi in future and future[[lo, hi]].notna().any().all():
                ax.fill_between(
                    future["date"],
                    future[lo],
                    future[hi],
                    color="tab:blue",
                    alpha=0.25,
                    label=f"{round(band[0] * 100)}-{round(band[1] * 100)}%",
                )
            ax.plot(future["date"], median, color="tab:blue", linewidth=1.5, label="median")
            if "model" in future:
                label = f"{item} ({', '.join(sorted(map(str, future['model'].unique())))})"
        ax.set_title(label, fontsize=9, parse_math=False)
        ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=7)
        for text in ax.get_xticklabels():
            text.set_rotation(30)
    for ax in axes[len(items) :]:
        ax.axis("off")
    axes[0].legend(fontsize=7, loc="upper left")
    if title:
        figure.suptitle(title, parse_math=False)
    return _to_png(figure, path, dpi)


def accuracy_bar_chart(
    accuracy: pd.DataFrame,
    metrics: Sequence[str] = ("wape", "mase", "wql"),
    title: str | None = None,
    path: str | Path | None = None,
    dpi: int = 100,
) -> bytes:
    """One panel per metric, one bar per model (client-level rows when ``level`` is present).

    Metrics missing from the table are skipped; a model without a value shows "n/a". Several rows
    per model (e.g. several ``as_of``) are averaged. Returns PNG bytes.
    """
    rows = accuracy[accuracy["level"] == "client"] if "level" in accuracy.columns else accuracy
    present = [m for m in metrics if m in rows.columns]
    if rows.empty or not present:
        return _empty("no accuracy to plot", path, dpi)
    table = rows.groupby("model", sort=True)[present].mean()
    width = max(3.0, 0.6 + 0.55 * len(table)) * len(present)
    figure = Figure(figsize=(width, 3.4), layout="constrained")
    axes = figure.subplots(1, len(present), squeeze=False).ravel()
    positions = np.arange(len(table))
    for ax, metric in zip(axes, present, strict=True):
        values = table[metric].to_numpy(dtype=float)
        ax.bar(positions, np.nan_to_num(values), color="tab:blue")
        for x, value in zip(positions, values, strict=True):
            ax.annotate(
                "n/a" if np.isnan(value) else f"{value:.3g}",
                (x, 0 if np.isnan(value) else value),
                ha="center",
                va="bottom",
                fontsize=7,
            )
        ax.set_xticks(
            positions,
            [str(m) for m in table.index],
            rotation=30,
            ha="right",
            fontsize=7,
            parse_math=False,
        )
        ax.set_title(metric.upper(), fontsize=9, parse_math=False)
    if title:
        figure.suptitle(title, parse_math=False)
    return _to_png(figure, path, dpi)
