"""Forecast origins of a retrospective run: several ``as_of`` dates, oldest first.

A retrospective forecast re-runs the flow as if it were an earlier day (nothing after ``as_of`` is
read), so accuracy of the forecasts a client would have had can be measured over a range of
origins. Each origin is one run with ``as_of`` in the run config; history accumulates by origin.
"""

from __future__ import annotations

import datetime as dt


def parse_as_of_range(text: str) -> tuple[dt.date, dt.date]:
    """``2026-08-01:2026-09-30`` (or ``..`` between the dates) -> the two dates, validated."""
    sep = ".." if ".." in text else ":"
    try:
        start, end = (dt.date.fromisoformat(part.strip()) for part in text.split(sep))
    except ValueError as exc:
        raise ValueError(f"expected START:END as YYYY-MM-DD:YYYY-MM-DD, got {text!r}") from exc
    if end < start:
        raise ValueError(f"the range ends before it starts: {text!r}")
    return start, end


def as_of_dates(start: dt.date, end: dt.date, every_days: int = 7) -> list[dt.date]:
    """Origins from ``start`` stepping ``every_days``; ``end`` is always the last origin."""
    if every_days < 1:
        raise ValueError(f"the step must be at least one day, got {every_days}")
    dates = []
    day = start
    while day < end:
        dates.append(day)
        day += dt.timedelta(days=every_days)
    dates.append(end)
    return dates
