import datetime as dt
import os
import subprocess
import sys
import textwrap

import pytest
from dagster import AssetKey, build_schedule_context, instance_for_test
from dagster_k8s.job import get_user_defined_k8s_config

from forecast_assets.definitions import autoloaded_definitions, build_definitions
from forecast_assets.defs.automation import build_daily_schedule
from forecast_assets.defs.partitions import clients_partitions
from forecast_assets.settings import REPO_ROOT, Settings

from .conftest import make_settings


@pytest.fixture(scope="module")
def defs():
    return build_definitions(Settings.from_env())


def test_one_job_carries_a_client_from_landing_to_marts(defs):
    job = defs.resolve_job_def("forecast_client")
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {
        "raw_sales",
        "ts_demand_daily",
        "covariate_calendar",
        "chronos_forecast",
        "baseline_forecast",
        "forecast_evaluation",
        "inventory_metrics",
        "fct_demand_forecast",
        "fct_inventory_recommendations",
    } <= keys
    assert job.partitions_def == clients_partitions
    graph = defs.resolve_asset_graph()
    # The served mart copies its candidate, which reads the forecasts (and carries the dbt tests).
    candidate = AssetKey("fct_demand_forecast__candidate")
    assert candidate in graph.get(AssetKey("fct_demand_forecast")).parent_keys
    assert AssetKey("chronos_forecast") in graph.get(candidate).parent_keys


def test_chronos_op_is_gpu_tagged_for_kubernetes(defs):
    node = defs.resolve_assets_def("chronos_forecast").node_def
    assert node.pool == "gpu"
    k8s = get_user_defined_k8s_config(node.tags)
    assert k8s.container_config["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_schedule_requests_one_run_per_registered_client():
    with instance_for_test() as instance:
        instance.add_dynamic_partitions(clients_partitions.name, ["acme", "globex"])
        context = build_schedule_context(
            instance=instance, scheduled_execution_time=dt.datetime(2026, 11, 23, 5, tzinfo=dt.UTC)
        )
        requests = list(build_daily_schedule(Settings.from_env())(context))
    assert sorted(r.partition_key for r in requests) == ["acme", "globex"]
    assert {r.run_key for r in requests} == {"acme-2026-11-23", "globex-2026-11-23"}


def test_the_defs_folder_is_autoloaded_without_settings():
    """Everything that needs no settings comes from defs/ without being listed anywhere; what the
    settings decide is not there (it is added by build_definitions)."""
    loaded = autoloaded_definitions()
    asset_keys = {key.to_user_string() for asset in loaded.assets for key in asset.keys}
    assert {"raw_sales", "ts_demand_daily", "chronos_forecast", "inventory_metrics", "dim_item"} <= asset_keys
    assert {job.name for job in loaded.jobs} == {"forecast_client"}
    assert {sensor.name for sensor in loaded.sensors} == {"forecast_automation"}
    assert not loaded.schedules and not loaded.resources and loaded.executor is None


def test_forecast_job_and_asset_runs_take_the_executor_of_the_settings(tmp_path):
    settings = make_settings(tmp_path, warehouse_url="postgresql://u@h/d", executor="multiprocess")
    defs = build_definitions(settings)
    assert defs.resolve_job_def("forecast_client").executor_def.name == "multiprocess"
    assert defs.resolve_implicit_global_asset_job_def().executor_def.name == "multiprocess"
    default = build_definitions(make_settings(tmp_path))
    assert default.resolve_job_def("forecast_client").executor_def.name == "in_process"


def test_settings_are_read_when_definitions_load_not_at_import(tmp_path):
    """Importing the code location reads no environment and runs no dbt; a bad setting fails the
    load (where Dagster reports it), not the import."""
    script = textwrap.dedent(
        """
        import forecast_assets.definitions as d
        from forecast_assets.defs.dbt.project import dbt_project
        assert dbt_project.cache_info().currsize == 0, "dbt project prepared at import"
        try:
            d.defs()
        except ValueError as exc:
            print("load failed:", exc)
        """
    )
    env = {**os.environ, "FORECAST_HOME": str(tmp_path), "FORECAST_EXECUTOR": "celery"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "load failed: FORECAST_EXECUTOR must be one of" in done.stdout
