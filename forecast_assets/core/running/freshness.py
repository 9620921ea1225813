"""Forecast freshness: which clients' forecasts are older than the allowed age.

Pure logic behind the freshness check, free of Dagster: the check gathers when each client's
forecast was last written and this decides who is stale. A registered client that never got a
forecast is stale too: a consumer asking for it finds nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Staleness:
    """One client whose forecast is too old (``age_hours`` None: never written)."""

    client_id: str
    age_hours: float | None

    def describe(self) -> str:
        if self.age_hours is None:
            return f"{self.client_id}: no forecast yet"
        return f"{self.client_id}: {self.age_hours:.1f} h old"


def stale_clients(
    last_written: Mapping[str, float | None], now: float, max_age_hours: float
) -> list[Staleness]:
    """Clients whose forecast was last written more than ``max_age_hours`` before ``now``.

    ``last_written`` maps every client to check onto a POSIX timestamp, or None if never written.
    Oldest first (never-written clients lead), so the worst cases head the report.
    """
    stale = []
    for client_id, written in last_written.items():
        if written is None:
            stale.append(Staleness(client_id, None))
            continue
        age = (now - written) / 3600
        if age > max_age_hours:
            stale.append(Staleness(client_id, round(age, 2)))
    return sorted(stale, key=lambda s: (s.age_hours is not None, -(s.age_hours or 0), s.client_id))
