"""A long step's progress line says what is done, the rate, and about how long is left."""

import pytest

from forecast_assets.core.running.progress import progress_line


@pytest.mark.parametrize(
    ("done", "total", "elapsed", "expected"),
    [
        (0, 100, 0.0, "fit: 0/100 items (0%) in 0 s"),
        (25, 100, 50.0, "fit: 25/100 items (25%) in 50 s, 0.5 items/s, about 150 s left"),
        (100, 100, 20.0, "fit: 100/100 items (100%) in 20 s, 5.0 items/s, about 0 s left"),
        (0, 0, 1.0, "fit: 0/0 items (100%) in 1 s"),
    ],
)
def test_progress_line(done, total, elapsed, expected):
    assert progress_line("fit", done, total, elapsed) == expected
