import numpy as np
import pandas as pd
import pytest

from forecast_assets.core.evaluation.drift import TOTAL_COLUMN, compare_windows, demand_drift, residual_drift
from forecast_assets.core.evaluation.plots import PNG_SIGNATURE, accuracy_bar_chart, fan_chart

AS_OF = pd.Timestamp("2024-03-31")


def _demand(shift: float, days: int = 56, items: int = 4, seed: int = 1) -> pd.DataFrame:
    """Poisson daily demand; the last 28 days have their mean multiplied by ``shift``."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(end=AS_OF, periods=days, freq="D")
    rows = []
    for k in range(items):
        base = 10.0 + 5 * k
        for i, d in enumerate(dates):
            mean = base * (shift if i >= days - 28 else 1.0)
            rows.append(
                {"item_id": f"i{k}", "date": d, "units_sold": float(rng.poisson(mean)), "is_stockout": 0}
            )
    return pd.DataFrame(rows)


def test_demand_drift_detects_a_clear_shift(tmp_path):
    result = demand_drift(_demand(shift=2.5), html_path=tmp_path / "drift.html")
    summary = result.summary
    assert summary["status"] == "ok"
    assert summary["drift_detected"] is True
    assert summary["share_drifted"] == pytest.approx(1.0)
    assert summary["n_columns"] == 5  # four items and the total
    assert summary["columns"][TOTAL_COLUMN]["drifted"] is True
    assert summary["columns"]["i0"]["p_value"] < 0.05
    assert summary["methods"]  # e.g. ["K-S p_value"]
    assert summary["current"] == {"start": "2024-03-04", "end": "2024-03-31", "rows": 28}
    assert summary["reference"]["end"] == "2024-03-03"
    assert (tmp_path / "drift.html").read_text().lstrip().lower().startswith("<")
    assert result.html is not None and len(result.html) > 1000


def test_demand_drift_stays_quiet_on_identical_distributions():
    result = demand_drift(_demand(shift=1.0), include_html=False)
    assert result.summary["status"] == "ok"
    assert result.summary["drift_detected"] is False
    assert result.summary["share_drifted"] < 0.5
    assert result.html is None
    # the very same values in both windows: nothing drifts at all
    same = pd.DataFrame({"a": np.arange(30.0), "b": np.arange(30.0) % 7})
    exact = compare_windows(same, same.copy(), include_html=False)
    assert exact.summary["n_drifted"] == 0


def test_tiny_or_constant_data_gives_not_enough_data():
    tiny = demand_drift(_demand(shift=3.0, days=10), include_html=False)
    assert tiny.summary["status"] == "not_enough_data"
    assert tiny.summary["drift_detected"] is False
    flat = _demand(shift=1.0).assign(units_sold=0.0)
    constant = demand_drift(flat, include_html=False)
    assert constant.summary["status"] == "not_enough_data"
    assert "constant" in next(iter(constant.summary["skipped"].values()))
    assert demand_drift(flat.iloc[0:0]).summary["status"] == "not_enough_data"


def _residual_frame(late_bias: float) -> pd.DataFrame:
    """Errors of two models over 56 days; the last 28 days reuse the first 28 days' errors in
    another order (the same distribution exactly), shifted by ``late_bias``."""
    rng = np.random.default_rng(7)
    dates = pd.date_range(end=AS_OF, periods=56, freq="D")
    early_errors = rng.normal(0, 2, size=(2, 2, 28))  # item, model, day
    late_errors = rng.permuted(early_errors, axis=2) + late_bias
    errors = np.concatenate([early_errors, late_errors], axis=2)
    rows = []
    for i_item, item in enumerate(("A", "B")):
        for i, d in enumerate(dates):
            actual = float(rng.poisson(20))
            for i_model, model in enumerate(("m1", "m2")):
                rows.append(
                    {
                        "model": model,
                        "item_id": item,
                        "date": d,
                        "cutoff": dates[0],
                        "actual": actual,
                        "point": actual - errors[i_item, i_model, i],
                    }
                )
    return pd.DataFrame(rows)


def test_residual_drift_flags_models_whose_errors_shift():
    drifted = residual_drift(_residual_frame(late_bias=8.0), include_html=False)
    assert drifted.summary["drift_detected"] is True
    assert set(drifted.summary["columns"]) == {"residual_m1", "residual_m2"}
    steady = residual_drift(_residual_frame(late_bias=0.0), include_html=False)
    assert steady.summary["drift_detected"] is False
    assert steady.summary["n_drifted"] == 0
    short = residual_drift(_residual_frame(0.0).iloc[:10], include_html=False)
    assert short.summary["status"] == "not_enough_data"


def _forecast(items: list[str], with_quantiles: bool = True) -> pd.DataFrame:
    dates = pd.date_range(AS_OF + pd.Timedelta(days=1), periods=14, freq="D")
    rows = []
    for item in items:
        for d in dates:
            row = {"model": "auto_ets", "item_id": item, "date": d, "point": 12.0}
            if with_quantiles:
                row.update({"q10": 8.0, "q50": 12.0, "q90": 16.0})
            rows.append(row)
    return pd.DataFrame(rows)


def test_fan_chart_returns_png_for_many_items_a_single_item_and_missing_quantiles(tmp_path):
    history = _demand(shift=1.0, items=5)
    png = fan_chart(history, _forecast([f"i{k}" for k in range(5)]), top_n=3, path=tmp_path / "fan.png")
    assert png.startswith(PNG_SIGNATURE)
    assert (tmp_path / "fan.png").read_bytes() == png
    single = fan_chart(history[history["item_id"] == "i0"], _forecast(["i0"]), top_n=6)
    assert single.startswith(PNG_SIGNATURE)
    no_bands = fan_chart(history, _forecast(["i0", "i1"], with_quantiles=False), top_n=2)
    assert no_bands.startswith(PNG_SIGNATURE)
    assert fan_chart(
        history.iloc[0:0], _forecast([]).reindex(columns=["item_id", "date", "point"])
    ).startswith(PNG_SIGNATURE)
    with pytest.raises(ValueError, match="one model per item"):
        fan_chart(history, pd.concat([_forecast(["i0"]), _forecast(["i0"])]))


def test_accuracy_bar_chart_returns_png_and_tolerates_missing_metrics(tmp_path):
    accuracy = pd.DataFrame(
        [
            {"level": "client", "model": "chronos-2", "wape": 0.3, "mase": 0.8, "wql": np.nan},
            {"level": "client", "model": "seasonal_naive", "wape": 0.4, "mase": 1.0, "wql": 0.2},
            {"level": "item", "model": "chronos-2", "wape": 9.0, "mase": 9.0, "wql": 9.0},
        ]
    )
    png = accuracy_bar_chart(accuracy, path=tmp_path / "bars.png")
    assert png.startswith(PNG_SIGNATURE)
    assert (tmp_path / "bars.png").exists()
    assert accuracy_bar_chart(accuracy, metrics=("sql",)).startswith(PNG_SIGNATURE)  # metric absent
    assert accuracy_bar_chart(accuracy.iloc[0:0]).startswith(PNG_SIGNATURE)
