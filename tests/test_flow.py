"""The whole flow materialized with dagster.materialize on generated data, on real DuckDB (or
Postgres, FORECAST_TEST_BACKEND=postgres), real dbt, real MLflow and the real Chronos-2 code path
(a random-weight model from a local folder)."""

import itertools
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from dagster import AssetCheckSeverity, AssetKey, AssetSelection, materialize

from forecast_assets.core.evaluation.scoring import live_accuracy_by_origin
from forecast_assets.core.forecasting.frame import quantile_column
from forecast_assets.definitions import build_assets, build_resource_defs
from forecast_assets.defs.inputs import AS_OF_OPS, earlier_origins, load_demand, load_earlier_forecasts
from forecast_assets.defs.partitions import clients_partitions
from forecast_assets.resources.warehouse import Warehouse

from .backends import sql_rows
from .conftest import SMALL_CLIENTS, make_instance, make_settings

QCOLS = [quantile_column(q) for q in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)]


def run_flow(settings, client: str, instance=None, as_of: str | None = None):
    instance = instance or make_instance(settings.home)
    instance.add_dynamic_partitions(clients_partitions.name, [client])
    run_config = {"ops": {op: {"config": {"as_of": as_of}} for op in AS_OF_OPS}} if as_of else None
    result = materialize(
        build_assets(),
        partition_key=client,
        resources=build_resource_defs(settings),
        instance=instance,
        run_config=run_config,
        raise_on_error=False,
    )
    return result, instance


def sql(settings, query, params=()):
    return sql_rows(settings.warehouse_url, query, params)


def check_results(result):
    return {
        (e.asset_check_evaluation_data.check_name): e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


@pytest.fixture
def chronos_settings(tmp_path, landing, tiny_model_dir):
    return make_settings(tmp_path, chronos_model_id=str(tiny_model_dir), chronos_batch_size=64)


def test_flow_with_random_weight_chronos(chronos_settings):
    settings = chronos_settings
    result, instance = run_flow(settings, "shop_a")
    assert result.success
    n_items = SMALL_CLIENTS[0].n_items

    # Chronos ran through predict_df and wrote a forecast and a backtest per window for every item.
    windows = settings.backtest_windows
    rows = sql(
        settings,
        "select kind, count(distinct item_id), count(distinct cutoff), count(*) from ml.chronos_forecast "
        "where client_id = ? and model = 'chronos-2' group by kind order by kind",
        ["shop_a"],
    )
    assert rows == [
        ("backtest", n_items, windows, n_items * 28 * windows),
        ("forecast", n_items, 1, n_items * 28),
    ]
    meta = result.asset_materializations_for_node("chronos_forecast")[0].metadata
    assert meta["model_status"].value == "ok"

    # Consumer mart: every item for every horizon day, quantiles ordered, non-negative.
    rows = sql(
        settings,
        f"select item_id, horizon_step, {', '.join(QCOLS)}, forecast_units, mlflow_run_id "
        "from analytics.fct_demand_forecast where client_id = ?",
        ["shop_a"],
    )
    assert len(rows) == n_items * 28
    assert {(r[0], r[1]) for r in rows} == {(i, s) for i in {r[0] for r in rows} for s in range(1, 29)}
    for r in rows:
        qs = r[2:11]
        assert all(a <= b + 1e-9 for a, b in itertools.pairwise(qs)) and min(qs) >= 0
        assert r[12]  # MLflow run id recorded with the row

    # Evaluation scored every model, including Chronos; one champion per item.
    models = {
        r[0]
        for r in sql(settings, "select model from analytics.fct_forecast_accuracy where level = 'client'")
    }
    assert {"chronos-2", "seasonal_naive", "auto_ets", "moving_average_7"} <= models
    champions = sql(
        settings,
        "select item_id, count(*) from analytics.fct_forecast_accuracy where is_champion group by item_id",
    )
    assert len(champions) == n_items and all(c == 1 for _, c in champions)

    # Inventory: one row per product, both safety stock methods reported, every item classified.
    inv = sql(
        settings,
        "select item_id, status, safety_stock, safety_stock_sigma, safety_stock_quantile, "
        "safety_stock_method, abc_class, reorder_point, order_up_to_level, exposure_demand "
        "from analytics.fct_inventory_recommendations",
    )
    assert len(inv) == n_items
    for _, status, ss, ss_sigma, ss_quantile, method, abc, rop, s_level, exposure in inv:
        assert status == "ok" and method == "sigma" and ss == ss_sigma >= 0 and ss_quantile >= 0
        # Periodic review (R, S): S covers the expected demand over L + R plus the safety stock.
        assert abc in {"A", "B", "C"} and s_level == pytest.approx(exposure + ss) and rop == s_level
    dim = sql(
        settings, "select count(*), count(abc_class) from analytics.dim_item where client_id = 'shop_a'"
    )
    assert dim == [(n_items, n_items)]

    # Rejected rows of the demo feed are recorded; counts add up.
    sales_meta = result.asset_materializations_for_node("raw_landing")
    sales_meta = next(m for m in sales_meta if m.asset_key == AssetKey("raw_sales")).metadata
    assert sales_meta["rejected"].value == 4
    assert sales_meta["rows_in"].value == sales_meta["accepted"].value + sales_meta["rejected"].value
    assert sql(settings, "select count(*) from raw.rejects where client_id = 'shop_a'")[0][0] == 4

    # MLflow: one run per forecast materialization in the client's experiment.
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    runs = mlflow.search_runs(experiment_names=["forecast-assets/shop_a"])
    assert set(runs["tags.asset"]) == {
        "chronos_forecast",
        "baseline_forecast",
        "global_forecast",
        "ensemble_forecast",
        "forecast_evaluation",
    }
    global_run = runs[runs["tags.asset"] == "global_forecast"].iloc[0]
    assert global_run["params.objectives"].startswith("tweedie")
    # The global model and the ensembles (Chronos joins them) forecast, and are scored like any model.
    models = {r[0] for r in sql(settings, "select distinct model from ml.global_forecast")}
    models |= {r[0] for r in sql(settings, "select distinct model from ml.ensemble_forecast")}
    assert models == {
        "lightgbm",
        "lightgbm_log",
        "ensemble_median(auto_ets+auto_theta+lightgbm+lightgbm_log+chronos-2)",
        "ensemble_mean(auto_ets+auto_theta+lightgbm+lightgbm_log+chronos-2)",
    }
    scored = {
        r[0]
        for r in sql(settings, "select distinct model from ml.forecast_evaluation where level = 'client'")
    }
    assert models <= scored
    chronos_run = runs[runs["tags.asset"] == "chronos_forecast"].iloc[0]
    assert chronos_run["params.model_id"] == str(settings.chronos_model_id)
    assert chronos_run["params.covariates"].split(",")[:2] == ["promo_flag", "promo_discount"]
    assert "event_benefits_day" in chronos_run["params.covariates"]  # shop_a delivers events.csv
    stored_ids = {r[0] for r in sql(settings, "select distinct mlflow_run_id from ml.chronos_forecast")}
    assert stored_ids == {chronos_run["run_id"]}

    # dbt tests ran as asset checks and passed.
    checks = check_results(result)
    assert checks["chronos_model_available"].passed
    assert checks["chronos_forecast_sane"].passed
    assert any(
        name.startswith("unique_combination_fct_demand_forecast") and c.passed for name, c in checks.items()
    )

    # A rerun replaces the client's rows instead of appending.
    before = sql(settings, "select count(*) from ml.chronos_forecast")[0][0]
    again, _ = run_flow(settings, "shop_a", instance)
    assert again.success
    assert sql(settings, "select count(*) from ml.chronos_forecast")[0][0] == before


def test_unavailable_model_falls_back_to_baselines(tmp_path, landing):
    settings = make_settings(tmp_path, chronos_model_id="amazon/chronos-2")  # hub unreachable here
    result, _ = run_flow(settings, "shop_b")
    assert result.success
    meta = result.asset_materializations_for_node("chronos_forecast")[0].metadata
    assert meta["model_status"].value == "unavailable"
    assert "amazon/chronos-2" in meta["cause"].value and "Remedy" in meta["cause"].value
    check = check_results(result)["chronos_model_available"]
    assert not check.passed and check.severity == AssetCheckSeverity.WARN
    assert sql(settings, "select count(*) from ml.chronos_forecast")[0][0] == 0
    n_items = SMALL_CLIENTS[1].n_items
    rows = sql(
        settings,
        "select count(distinct item_id), count(*), min(model) like 'chronos%' "
        "from analytics.fct_demand_forecast where client_id = 'shop_b'",
    )
    assert rows == [(n_items, n_items * 28, False)]
    assert sql(settings, "select count(*) from analytics.fct_inventory_recommendations")[0][0] == n_items


def test_required_model_fails_the_asset(tmp_path, landing):
    settings = make_settings(tmp_path, chronos_model_id="amazon/chronos-2", chronos_required=True)
    result, _ = run_flow(settings, "shop_b")
    assert not result.success
    failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failed == ["chronos_forecast"]


def test_evaluation_across_origins_tracks_live_accuracy_champions_and_drift(tmp_path, landing):
    """Two origins two weeks apart: the later evaluation scores the earlier forecast against the
    actuals that arrived since, keeps champions within the margin, and logs charts and drift."""
    settings = make_settings(tmp_path, chronos_model_id="amazon/chronos-2")  # baselines only: faster
    first, instance = run_flow(settings, "shop_b", as_of="2026-10-17")
    assert first.success
    second, _ = run_flow(settings, "shop_b", instance)
    assert second.success
    n_items = SMALL_CLIENTS[1].n_items

    # Live accuracy: the forecast made at 2026-10-17 scored on its 14 elapsed days, per item.
    live = sql(
        settings,
        "select forecast_as_of, level, count(*), min(n_obs), max(n_obs) from ml.forecast_live_accuracy "
        "where client_id = 'shop_b' and as_of = '2026-10-31' and level in ('item', 'step') "
        "and model = 'seasonal_naive' group by 1, 2 order by 2",
    )
    assert [(str(r[0]), r[1], r[2]) for r in live] == [
        ("2026-10-17", "item", n_items),
        ("2026-10-17", "step", 14),
    ]
    assert live[0][4] <= 14  # an item has at most 14 scored days (stock-out days left out)
    # The evaluation read its recent weeks only, yet scored as from the whole history: the stored
    # live MASE (whose scale covers each item's history up to 2026-10-17) equals that score.
    warehouse, as_of = Warehouse(url=settings.warehouse_url), pd.Timestamp("2026-10-31")
    earlier = load_earlier_forecasts(warehouse, "shop_b", as_of, earlier_origins(warehouse, "shop_b", as_of))
    history = load_demand(warehouse, "shop_b", until=as_of)
    whole = live_accuracy_by_origin(earlier, history, settings.quantiles)
    naive = whole[(whole["level"] == "item") & (whole["model"] == "seasonal_naive")]
    want = naive.set_index("item_id")["mase"]
    stored = sql(
        settings,
        "select item_id, mase from ml.forecast_live_accuracy where client_id = 'shop_b' "
        "and as_of = '2026-10-31' and level = 'item' and model = 'seasonal_naive' order by item_id",
    )
    assert len(stored) == n_items and all(mase is not None for _, mase in stored)
    assert [m for _, m in stored] == pytest.approx([want[item] for item, _ in stored], rel=1e-9)

    # Rolling-origin accuracy per step, with quantile metrics and forecast value added.
    steps = sql(
        settings,
        "select count(distinct step), min(step), max(step), count(wql), count(coverage_80) "
        "from analytics.fct_forecast_accuracy "
        "where level = 'step' and model = 'auto_ets' and as_of = '2026-10-31'",
    )
    assert steps == [(28, 1, 28, 28, 28)]
    naive_fva = sql(
        settings,
        "select max(abs(fva)) from analytics.fct_forecast_accuracy where model = 'seasonal_naive' "
        "and level = 'client'",
    )
    assert naive_fva == [(0.0,)]

    # The second evaluation had incumbents: every champion is either kept or replaced with a reason.
    reasons = [
        r[0]
        for r in sql(
            settings,
            "select champion_reason from ml.forecast_evaluation where client_id = 'shop_b' "
            "and as_of = '2026-10-31' and is_champion",
        )
    ]
    assert len(reasons) == n_items
    assert all(("incumbent" in r) or ("replaced" in r) or ("better" in r) for r in reasons), reasons

    # Drift checks ran (WARN), and the MLflow run holds the charts and the drift reports.
    checks = check_results(second)
    assert {"demand_drift", "residual_drift"} <= set(checks)
    assert all(checks[n].severity == AssetCheckSeverity.WARN for n in ("demand_drift", "residual_drift"))
    meta = second.asset_materializations_for_node("forecast_evaluation")[0].metadata
    assert meta["fan_chart"].value.startswith("![fan chart](data:image/png;base64,")
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    client = mlflow.MlflowClient()
    artifacts = {a.path for a in client.list_artifacts(meta["mlflow_run_id"].value, "evaluation")}
    assert {"evaluation/fan_chart.png", "evaluation/accuracy_by_model.png"} <= artifacts
    assert (
        "evaluation/demand_drift.json" in artifacts and "evaluation/forecast_evaluation.parquet" in artifacts
    )

    # The baselines' run holds every row it fitted (logged a slice at a time, as they were fitted),
    # and they are the rows the warehouse holds for the origins it fitted.
    baselines = second.asset_materializations_for_node("baseline_forecast")[0].metadata
    logged = mlflow.artifacts.download_artifacts(
        run_id=baselines["mlflow_run_id"].value,
        artifact_path="baseline_forecast",
        dst_path=str(tmp_path / "art"),
    )
    rows = pd.concat([pd.read_parquet(p) for p in sorted(Path(logged).glob("*.parquet"))], ignore_index=True)
    assert len(rows) == baselines["rows_fitted"].value > 0
    assert set(rows["mlflow_run_id"]) == {baselines["mlflow_run_id"].value}
    stored_rows = sql(
        settings,
        "select count(*) from ml.baseline_forecast where client_id = 'shop_b' and as_of = '2026-10-31' "
        "and mlflow_run_id = ?",
        [baselines["mlflow_run_id"].value],
    )
    assert stored_rows == [(len(rows),)]
    # Its logged input fingerprint is the live origin's, as ml.forecast_origins records it.
    live_print = sql(
        settings,
        "select fingerprint from ml.forecast_origins where client_id = 'shop_b' and as_of = '2026-10-31' "
        "and source_table = 'ml.baseline_forecast' and kind = 'forecast'",
    )
    params = mlflow.get_run(baselines["mlflow_run_id"].value).data.params
    assert live_print == [(params["input_fingerprint"],)]


def test_a_future_promotion_in_the_promotions_file_reaches_chronos(chronos_settings, landing):
    """Covariates reach the model end to end: a promotion added to the client's promotions file for
    days in the horizon changes that item's Chronos forecast, and leaves another item's alone."""
    settings = chronos_settings
    instance = make_instance(settings.home)
    instance.add_dynamic_partitions(clients_partitions.name, ["shop_a"])

    def medians() -> dict[str, list[float]]:
        result = materialize(
            build_assets(),
            selection=AssetSelection.keys("chronos_forecast").upstream(),
            partition_key="shop_a",
            resources=build_resource_defs(settings),
            instance=instance,
        )
        assert result.success
        rows = sql(
            settings,
            "select item_id, q50 from ml.chronos_forecast where client_id = 'shop_a' "
            "and kind = 'forecast' and item_id in ('A-0002', 'A-0004') order by item_id, date",
        )
        return {item: [q for i, q in rows if i == item] for item in ("A-0002", "A-0004")}

    before = medians()
    with (landing / "shop_a" / "promotions.csv").open("a") as handle:
        handle.write("A-0002,2026-11-04,2026-11-10,discount,0.3\n")  # inside the 28-day horizon
    after = medians()
    assert len(before["A-0002"]) == len(after["A-0002"]) == 28
    assert after["A-0002"] != pytest.approx(before["A-0002"], rel=1e-6)
    assert after["A-0004"] == pytest.approx(before["A-0004"], rel=1e-5)  # no cross-learning
