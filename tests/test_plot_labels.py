"""Plot labels are plain text: an item id, a model name or a title with ``$`` (matplotlib's math
text delimiter) draws as written instead of failing the client's evaluation."""

import numpy as np
import pandas as pd
import pytest

from forecast_assets.core.evaluation.plots import PNG_SIGNATURE, accuracy_bar_chart, fan_chart

NASTY = ["PROMO $\\bogus$ 2", "50% $off", "a_b^c $x_{1}$", "$$", "\\frac{1}{0}"]


def _history(items: list[str]) -> pd.DataFrame:
    dates = pd.date_range("2026-01-01", periods=20)
    return pd.DataFrame(
        [{"item_id": i, "date": d, "units_sold": float(k % 5)} for i in items for k, d in enumerate(dates)]
    )


def _forecast(items: list[str], model: str) -> pd.DataFrame:
    dates = pd.date_range("2026-01-21", periods=7)
    return pd.DataFrame(
        [
            {"item_id": i, "date": d, "model": model, "point": 3.0, "q10": 1.0, "q50": 3.0, "q90": 5.0}
            for i in items
            for d in dates
        ]
    )


@pytest.mark.parametrize("item", NASTY)
def test_fan_chart_draws_item_ids_with_dollars(item):
    png = fan_chart(
        _history([item, "plain"]), _forecast([item, "plain"], "m $1$"), top_n=2, title=f"c {item}"
    )
    assert png.startswith(PNG_SIGNATURE)


def test_accuracy_chart_draws_model_names_with_dollars():
    accuracy = pd.DataFrame(
        [{"level": "client", "model": m, "wape": 0.1 * k, "mase": np.nan} for k, m in enumerate(NASTY)]
    )
    assert accuracy_bar_chart(accuracy, title="$\\bogus$").startswith(PNG_SIGNATURE)
