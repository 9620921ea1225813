import datetime as dt

from dagster import AssetKey, build_schedule_context, instance_for_test
from dagster_k8s.job import get_user_defined_k8s_config

from forecast_assets.definitions import daily_forecast_schedule, defs
from forecast_assets.defs.partitions import clients_partitions


def test_one_job_carries_a_client_from_landing_to_marts():
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
    assert AssetKey("chronos_forecast") in graph.get(AssetKey("fct_demand_forecast")).parent_keys


def test_chronos_op_is_gpu_tagged_for_kubernetes():
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
        requests = list(daily_forecast_schedule(context))
    assert sorted(r.partition_key for r in requests) == ["acme", "globex"]
    assert {r.run_key for r in requests} == {"acme-2026-11-23", "globex-2026-11-23"}
