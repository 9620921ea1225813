import numpy as np
import pandas as pd
import pytest

from forecast_assets.core.evaluation.drift import (
    TOTAL_COLUMN,
    compare_windows,
    demand_drift,
    residual_drift,
    scaled_residuals,
    shared_steps,
)
from forecast_assets.core.evaluation.plots import PNG_SIGNATURE, accuracy_bar_chart, fan_chart
from forecast_assets.core.evaluation.scoring import scored_rows
from forecast_assets.core.forecasting.backtest import backtest_cutoffs

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


# Production backtest shape: BACKTEST_WINDOWS 3, BACKTEST_STEP_DAYS 7, horizon 28, drift window 28.
SIZES = (2.0, 20.0, 200.0, 2000.0)  # units a day: items of very different sizes


def _backtest_scored(seed: int, shift: float = 1.0, models: tuple[str, ...] = ("m1", "m2")) -> pd.DataFrame:
    """Scored backtest rows of items with stationary demand (normal, 25% coefficient of variation)
    whose last 28 days have their mean multiplied by ``shift``. Each model forecasts the pre-shift
    mean plus noise that grows with the step (1% of the mean per day of lead time), as every real
    forecast's error does; the cutoffs are those of production."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(end=AS_OF, periods=120, freq="D")
    recent = dates > AS_OF - pd.Timedelta(days=28)
    demand = pd.concat(
        [
            pd.DataFrame(
                {
                    "item_id": f"i{k}",
                    "date": dates,
                    "units_sold": np.clip(np.round(rng.normal(mean, 0.25 * mean)), 0, None),
                    "is_stockout": 0,
                }
            )
            for k, size in enumerate(SIZES)
            for mean in [np.where(recent, size * shift, size)]
        ],
        ignore_index=True,
    )
    steps = np.arange(1, 29)
    forecasts = pd.concat(
        [
            pd.DataFrame(
                {
                    "model": model,
                    "item_id": f"i{k}",
                    "cutoff": cutoff,
                    "date": cutoff + pd.to_timedelta(steps, unit="D"),
                    "point": size * (1 + 0.01 * steps * rng.normal(size=steps.size)),
                }
            )
            for cutoff in backtest_cutoffs(AS_OF, horizon=28, n_windows=3, step=7)
            for k, size in enumerate(SIZES)
            for model in models
        ],
        ignore_index=True,
    )
    return scored_rows(forecasts, demand, quantiles=())


@pytest.mark.parametrize("seed", range(8))
def test_residual_drift_stays_quiet_on_stationary_backtests(seed):
    result = residual_drift(_backtest_scored(seed), include_html=False)
    summary = result.summary
    assert summary["status"] == "ok"
    assert summary["drift_detected"] is False, summary["columns"]
    assert set(summary["columns"]) == {"residual_m1", "residual_m2"}
    # Steps 1-7 only: the latest cutoff's first week against the earlier cutoffs' first weeks,
    # one row per item and date (4 items x 7 recent dates, 4 items x 14 dates before).
    assert summary["steps"] == list(range(1, 8))
    assert summary["current"] == {"start": "2024-03-04", "end": "2024-03-10", "rows": 28}
    assert summary["reference"] == {"start": "2024-02-19", "end": "2024-03-03", "rows": 56}


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("shift", [1.5, 0.6])
def test_residual_drift_flags_a_level_shift_the_forecasts_missed(seed, shift):
    result = residual_drift(_backtest_scored(seed, shift=shift), include_html=False)
    assert result.summary["drift_detected"] is True
    assert result.summary["n_drifted"] == 2


def test_residual_drift_needs_enough_comparable_rows():
    one_item = _backtest_scored(0)
    one_item = one_item[one_item["item_id"] == "i3"]  # 7 recent dates: fewer than min_rows=14
    assert residual_drift(one_item, include_html=False).summary["status"] == "not_enough_data"
    assert residual_drift(one_item.iloc[0:0], include_html=False).summary["status"] == "not_enough_data"


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # (item, cutoff day, date day, actual, point, scale) -> kept (item, date day, step, scaled)
        ([("a", 0, 3, 12.0, 10.0, 4.0)], [("a", 3, 3, 0.5)]),  # residual / seasonal scale
        ([("a", 0, 3, 12.0, 10.0, np.nan)], [("a", 3, 3, 2 / 12)]),  # no scale: / mean actual
        # one date forecast from two cutoffs: the closer one (smaller step) is kept
        ([("a", 0, 8, 9.0, 5.0, 2.0), ("a", 7, 8, 9.0, 8.0, 2.0)], [("a", 8, 1, 0.5)]),
        ([("a", 0, 3, 0.0, 1.0, np.nan)], []),  # no scale and no demand: nothing to scale by
    ],
)
def test_scaled_residuals_keep_one_scale_free_error_per_item_and_date(rows, expected):
    day = pd.Timestamp("2024-01-01")
    scored = pd.DataFrame(
        [
            {
                "model": "m",
                "item_id": item,
                "cutoff": day + pd.Timedelta(days=cutoff),
                "date": day + pd.Timedelta(days=date),
                "actual": actual,
                "point": point,
                "scale": scale,
            }
            for item, cutoff, date, actual, point, scale in rows
        ]
    )
    out = scaled_residuals(scored)
    got = [(r.item_id, (r.date - day).days, r.step, r.scaled) for r in out.itertuples()]
    assert [g[:3] for g in got] == [e[:3] for e in expected]
    assert [g[3] for g in got] == pytest.approx([e[3] for e in expected])


@pytest.mark.parametrize(
    ("reference", "current", "expected"),
    [([1, 2, 3], [2, 3, 4], [2, 3]), ([1, 2], [8, 9], []), ([1, 1, 7], [7, 1], [1, 7])],
)
def test_shared_steps_are_the_steps_both_windows_hold(reference, current, expected):
    assert shared_steps(pd.Series(reference), pd.Series(current)) == expected


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
