"""Opening the DuckDB warehouse file while another process may hold its lock.

DuckDB admits one process per file (a writer excludes even readers). Runs are queued so that two
runs never write at once (``dagster.yaml``), but a process outside the queue (the CLI, a notebook,
``dbt`` started by hand) can still hold the file for a moment. Waiting a few seconds with
exponential backoff turns such a brief overlap into a delay instead of a failed step; a lock held
longer than the budget still fails, with DuckDB's message naming the holder.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import duckdb

LOCK_MESSAGES = ("Could not set lock on file", "Conflicting lock is held")


def is_lock_conflict(exc: BaseException) -> bool:
    """True for DuckDB's error about another process holding the file lock."""
    return isinstance(exc, duckdb.IOException) and any(m in str(exc) for m in LOCK_MESSAGES)


def connect_duckdb(
    path: Path | str,
    *,
    read_only: bool = False,
    attempts: int = 7,
    first_delay: float = 0.25,
    max_delay: float = 8.0,
) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect(path)``, retried while the file is locked by another process.

    The default budget waits about 16 s in all (0.25, 0.5, 1, 2, 4, 8 s, with jitter so that
    waiting processes do not retry in lockstep).
    """
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if not is_lock_conflict(exc) or attempt == attempts:
                raise
        time.sleep(delay * random.uniform(0.8, 1.2))
        delay = min(delay * 2, max_delay)
    raise AssertionError("unreachable")
