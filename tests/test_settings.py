"""Settings: each default written once, read from its environment variable, handed to the
stage resources without copying; and the run reports built from plain values."""

from dataclasses import MISSING, fields

import pandas as pd
import pytest

from forecast_assets.core.classification import DEFAULT_ABC_CUTOFFS, DEFAULT_XYZ_CUTOFFS
from forecast_assets.core.evaluation.report import champion_changes
from forecast_assets.core.forecasting.frame import quantile_column
from forecast_assets.core.forecasting.report import (
    backtest_cutoffs_param,
    coverage_problems,
    exclusions_markdown,
    model_problems,
)
from forecast_assets.resources.build import build_resources, from_settings
from forecast_assets.resources.chronos import ChronosModel
from forecast_assets.resources.params import (
    EvaluationParams,
    ForecastingParams,
    InventoryParams,
    LandingParams,
)
from forecast_assets.settings import Settings

ENV_NAMES = [f.metadata["env"] for f in fields(Settings)]


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No setting from the caller's environment; FORECAST_HOME in a temporary folder."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FORECAST_HOME", str(tmp_path))
    return tmp_path


def test_every_setting_has_its_own_environment_variable():
    assert len(ENV_NAMES) == len(set(ENV_NAMES)) == len(fields(Settings))
    assert {"CHRONOS_BATCH_SIZE", "FORECAST_HORIZON", "FORECAST_QUANTILES", "ABC_CUTOFFS"} <= set(ENV_NAMES)


def test_from_env_without_variables_gives_the_field_defaults_and_home_relative_storage(clean_env):
    settings = Settings.from_env()
    home = clean_env.resolve()
    assert settings.home == home
    assert settings.landing_dir == home / "landing"
    assert settings.warehouse_url == f"duckdb:///{home / 'warehouse.duckdb'}"
    assert settings.mlflow_tracking_uri == f"sqlite:///{home / 'mlflow.db'}"
    for f in fields(Settings):
        if f.default is not MISSING:
            assert getattr(settings, f.name) == f.default, f.name
    # The class cut-offs are the core's defaults, not a copy of them.
    assert settings.abc_cutoffs is DEFAULT_ABC_CUTOFFS
    assert settings.xyz_cutoffs is DEFAULT_XYZ_CUTOFFS


def test_from_env_parses_each_kind_of_value(clean_env, monkeypatch):
    monkeypatch.setenv("CHRONOS_BATCH_SIZE", " 64 ")
    monkeypatch.setenv("CHAMPION_MARGIN", "0.1")
    monkeypatch.setenv("CHRONOS_REQUIRED", "Yes")
    monkeypatch.setenv("CHAMPION_METRIC", "WAPE")
    monkeypatch.setenv("XYZ_CUTOFFS", "0.4,0.9")
    monkeypatch.setenv("FORECAST_QUANTILES", "0.1,0.5,0.9")
    monkeypatch.setenv("LANDING_DIR", str(clean_env / "drop"))
    settings = Settings.from_env()
    assert settings.chronos_batch_size == 64
    assert settings.champion_margin == 0.1
    assert settings.chronos_required is True
    assert settings.champion_metric == "wape"
    assert settings.xyz_cutoffs == (0.4, 0.9)
    assert settings.quantiles == (0.1, 0.5, 0.9)
    assert settings.landing_dir == (clean_env / "drop").resolve()


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("CHRONOS_BATCH_SIZE", "many", "CHRONOS_BATCH_SIZE must be a number, got 'many'"),
        ("CHAMPION_MARGIN", "5%", "CHAMPION_MARGIN must be a number, got '5%'"),
        ("CHRONOS_CROSS_LEARNING", "maybe", "CHRONOS_CROSS_LEARNING must be true or false, got 'maybe'"),
        ("ABC_CUTOFFS", "0.8", "ABC_CUTOFFS must be two comma-separated numbers, got '0.8'"),
        ("FORECAST_QUANTILES", "0.1,0.9", "FORECAST_QUANTILES must include the median 0.5"),
        ("FORECAST_QUANTILES", "0.5,0.1", r"FORECAST_QUANTILES must be increasing values in \(0, 1\)"),
        ("CHRONOS_CHUNK_ITEMS", "0", "CHRONOS_CHUNK_ITEMS must be at least 1, got 0"),
    ],
)
def test_from_env_names_the_variable_in_every_error(clean_env, monkeypatch, name, raw, message):
    monkeypatch.setenv(name, raw)
    with pytest.raises(ValueError, match=message):
        Settings.from_env()


@pytest.mark.parametrize(
    "resource", [LandingParams, ForecastingParams, EvaluationParams, InventoryParams, ChronosModel]
)
def test_resources_restate_no_default(resource):
    assert all(field.is_required() for field in resource.model_fields.values())


def test_stage_resources_take_the_same_named_settings(tmp_path):
    settings = Settings(
        home=tmp_path,
        landing_dir=tmp_path / "landing",
        warehouse_url=f"duckdb:///{tmp_path / 'w.duckdb'}",
        mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        horizon=14,
        quantiles=(0.2, 0.5, 0.8),
        champion_scope="item",
        service_level=0.9,
        chronos_batch_size=32,
    )
    resources = build_resources(settings)
    assert resources["landing_params"].landing_dir == str(tmp_path / "landing")
    forecasting = resources["forecasting_params"]
    assert (forecasting.horizon, forecasting.quantile_levels) == (14, (0.2, 0.5, 0.8))
    assert forecasting.holiday_country == settings.holiday_country
    assert resources["evaluation_params"].champion_scope == "item"
    inventory = resources["inventory_params"]
    assert (inventory.service_level, inventory.abc_cutoffs) == (0.9, list(DEFAULT_ABC_CUTOFFS))
    assert resources["chronos"].batch_size == 32
    assert resources["chronos"].model_id == settings.chronos_model_id
    assert "params" not in resources


def test_a_resource_field_without_a_setting_fails_at_build(tmp_path):
    class Stray(LandingParams):
        no_such_setting: int

    settings = Settings(
        home=tmp_path, landing_dir=tmp_path, warehouse_url="duckdb:///x", mlflow_tracking_uri="x"
    )
    with pytest.raises(AttributeError, match="Settings has no field 'no_such_setting'"):
        from_settings(Stray, settings)


def test_forecast_report_pieces():
    day = pd.Timestamp
    origins = [
        ("forecast", day("2026-10-31")),
        ("backtest", day("2026-10-03")),
        ("backtest", day("2026-10-10")),
    ]
    assert backtest_cutoffs_param(origins) == "2026-10-03,2026-10-10"
    assert coverage_problems(["a", "b"], ["a", "b", "c"]) == []
    assert coverage_problems(["a", "b", "c"], ["b"]) == ["2 items have no forecast, e.g. ['a', 'c']"]
    assert exclusions_markdown({}) == "none"
    assert exclusions_markdown({"b": "too short", "a": "no demand"}) == "- a: no demand\n- b: too short"
    assert exclusions_markdown({str(i): "x" for i in range(30)}, limit=2).count("\n") == 1


def test_model_problems_names_the_model_and_the_uncovered_items():
    dates = pd.date_range("2026-11-01", periods=2)
    levels = (0.1, 0.5, 0.9)
    future = pd.DataFrame(
        {
            "model": "m",
            "item_id": "a",
            "date": dates,
            "step": [1, 2],
            "point": [1.0, float("nan")],
            **{quantile_column(q): [q, 2 * q] for q in levels},
        }
    )
    problems = model_problems(future, ["a", "b"], 2, levels)
    assert problems == ["m: forecast contains NaN", "1 items have no forecast, e.g. ['b']"]
    assert model_problems(future.fillna(1.0), ["a"], 2, levels) == []


def test_champion_changes_counts_only_replaced_incumbents():
    champions = pd.DataFrame({"champion_model": ["x", "y", "z"], "previous_champion": ["x", "x", None]})
    assert champion_changes(champions) == 1
