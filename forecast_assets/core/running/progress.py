"""Progress lines for long steps: what is done, at what rate, and about how long is left.

A 30,000-item client's fit step runs for tens of minutes; an operator watching the run in the
Dagster UI needs to see it moving and when it will end, not a silent step.
"""

from __future__ import annotations


def progress_line(label: str, done: int, total: int, elapsed_s: float, unit: str = "items") -> str:
    """``label: done/total unit (pct) in Ns, R unit/s, about Ns left`` (the rate and the time
    left are omitted until something is done)."""
    share = done / total if total else 1.0
    line = f"{label}: {done}/{total} {unit} ({share:.0%}) in {elapsed_s:.0f} s"
    if done <= 0 or elapsed_s <= 0:
        return line
    rate = done / elapsed_s
    return f"{line}, {rate:.1f} {unit}/s, about {(total - done) / rate:.0f} s left"
