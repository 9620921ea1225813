"""The scale knobs: every core by default, a Ray address checked when settings load, a backtest
retention that reaches the forecast writes as days (0: keep all)."""

from __future__ import annotations

from dataclasses import fields

import pytest

from forecast_assets.resources.build import build_resources
from forecast_assets.settings import Settings

SCALE_ENV = ("BASELINE_N_JOBS", "RAY_ADDRESS", "BACKTEST_RETENTION_DAYS", "BASELINE_HISTORY_DAYS")


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for f in fields(Settings):
        monkeypatch.delenv(f.metadata["env"], raising=False)
    monkeypatch.setenv("FORECAST_HOME", str(tmp_path))
    return monkeypatch


def test_defaults_use_every_core_locally_read_two_years_and_keep_90_days_of_backtests(clean_env):
    settings = Settings.from_env()
    assert settings.baseline_n_jobs == -1
    assert settings.global_model_n_jobs == -1
    assert settings.global_model_slice_items == 3000
    assert settings.ray_address == ""
    assert settings.backtest_retention_days == 90
    params = build_resources(settings)["forecasting_params"]
    assert params.baseline_n_jobs == -1 and params.ray_address == ""
    assert params.baseline_history_days == 730
    assert params.global_model_n_jobs == -1 and params.global_model_slice_items == 3000
    assert params.backtest_retention == 90
    assert params.global_model_training == "origin", "trained at each origin unless asked"


@pytest.mark.parametrize(
    "address", ["local", "auto", "ray://forecast-ray-head-svc.ray:10001", "10.0.0.5:6379"]
)
def test_ray_addresses_ray_accepts_load(clean_env, address):
    clean_env.setenv("RAY_ADDRESS", address)
    settings = Settings.from_env()
    assert build_resources(settings)["forecasting_params"].ray_address == address


def test_zero_retention_keeps_every_backtest(clean_env):
    clean_env.setenv("BACKTEST_RETENTION_DAYS", "0")
    assert build_resources(Settings.from_env())["forecasting_params"].backtest_retention is None


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("BASELINE_N_JOBS", "0", "BASELINE_N_JOBS must be -1"),
        ("BASELINE_N_JOBS", "-2", "BASELINE_N_JOBS must be -1"),
        ("GLOBAL_MODEL_N_JOBS", "0", "GLOBAL_MODEL_N_JOBS must be -1"),
        ("GLOBAL_MODEL_SLICE_ITEMS", "0", "GLOBAL_MODEL_SLICE_ITEMS must be at least 1"),
        ("GLOBAL_MODEL_TRAINING", "weekly", "GLOBAL_MODEL_TRAINING must be one of origin, grid"),
        ("RAY_ADDRESS", "http://head:8265", "RAY_ADDRESS must be"),
        ("RAY_ADDRESS", "ray://head", "RAY_ADDRESS must be"),
        ("BACKTEST_RETENTION_DAYS", "-1", "BACKTEST_RETENTION_DAYS must be 0"),
        ("BASELINE_HISTORY_DAYS", "30", "BASELINE_HISTORY_DAYS must be 0"),
    ],
)
def test_bad_scale_settings_fail_when_settings_load(clean_env, name, raw, message):
    clean_env.setenv(name, raw)
    with pytest.raises(ValueError, match=message):
        Settings.from_env()
