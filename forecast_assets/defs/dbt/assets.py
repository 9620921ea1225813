"""The dbt assets: modelling (staging -> ts_demand_daily, covariate_calendar) and serving (the
consumer marts), each built per client partition with the client passed as a dbt var.

Built by :func:`build_dbt_assets` when definitions load (``@dbt_assets`` reads the manifest,
which :func:`~forecast_assets.defs.dbt.project.dbt_project` may first have to parse), and picked
up with the rest of ``defs/`` through the ``@definitions`` function below.
"""

import functools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetsDefinition, Definitions, definitions
from dagster_dbt import DbtCliResource, dbt_assets

from forecast_assets.core.clients import validate_client_key
from forecast_assets.defs.dbt.project import dbt_project
from forecast_assets.defs.dbt.translator import TRANSLATOR
from forecast_assets.defs.partitions import ONE_CLIENT_PER_RUN, clients_partitions
from forecast_assets.resources.params import ForecastingParams
from forecast_assets.resources.warehouse import Warehouse
from forecast_assets.tenancy import resecure_if_enabled
from forecast_assets.urls import dbt_env


def dbt_vars(partition_key: str, horizon: int) -> dict[str, str | int]:
    """The ``--vars`` of one client's dbt build. The key is validated here because it becomes a SQL
    literal in every model (``where client_id = '{{ var("client_id") }}'``): a key that is not a
    slug must never reach dbt."""
    return {
        "client_id": validate_client_key(partition_key),
        "horizon": horizon,
    }


def _build(
    context: AssetExecutionContext, dbt: DbtCliResource, params: ForecastingParams, warehouse: Warehouse
) -> Iterator[Any]:
    """``dbt build`` of the selected models for the run's client, against the run's warehouse.

    The client's warehouse lock is held (on a connection of this process) for the whole dbt
    subprocess: dbt's delete+insert of two runs of one client would otherwise interleave and leave
    both versions in a mart."""
    build_vars = dbt_vars(context.partition_key, params.horizon)
    # The dbt subprocess reads its target and connection from its environment (profiles.yml).
    os.environ.update(dbt_env(warehouse.url))
    with warehouse.client_lock(context.partition_key):
        yield from dbt.cli(["build", "--vars", json.dumps(build_vars)], context=context).stream()


@functools.cache
def _stage(manifest: Path, tag: str):
    """``@dbt_assets`` for the models tagged ``tag``, named ``dbt_<tag>``, one client per run."""
    return dbt_assets(
        manifest=manifest,
        select=f"tag:{tag}",
        partitions_def=clients_partitions,
        dagster_dbt_translator=TRANSLATOR,
        backfill_policy=ONE_CLIENT_PER_RUN,
        name=f"dbt_{tag}",
    )


def build_dbt_assets() -> tuple[AssetsDefinition, AssetsDefinition]:
    """``dbt_modelling`` and ``dbt_serving``, from the current manifest. Cached: every load in a
    process (definitions, tests) shares the same two definitions instead of re-reading the
    manifest."""
    manifest = dbt_project().manifest_path

    @_stage(manifest, "modelling")
    def dbt_modelling(
        context: AssetExecutionContext,
        dbt: DbtCliResource,
        forecasting_params: ForecastingParams,
        warehouse: Warehouse,
    ):
        """Staging views, ``ts_demand_daily`` and ``covariate_calendar`` for one client."""
        yield from _build(context, dbt, forecasting_params, warehouse)

    @_stage(manifest, "serving")
    def dbt_serving(
        context: AssetExecutionContext,
        dbt: DbtCliResource,
        forecasting_params: ForecastingParams,
        warehouse: Warehouse,
    ):
        """Consumer marts (the contract in CHANGELOG.md): fct_demand_forecast, fct_forecast_accuracy,
        fct_inventory_recommendations, dim_item.

        On Postgres with consumer roles set up (``forecast-assets grant-consumers``), row-level
        security and grants are re-applied after the build: a dbt full refresh re-creates the marts
        without them."""
        yield from _build(context, dbt, forecasting_params, warehouse)
        if warehouse.backend == "postgres":
            secured = resecure_if_enabled(warehouse.url)
            if secured:
                context.log.info(f"consumer row-level security in place on {', '.join(secured)}")

    return dbt_modelling, dbt_serving


@definitions
def dbt_defs() -> Definitions:
    """The dbt assets, for the autoloaded ``defs/`` folder; their ``dbt`` resource comes with the
    other resources (:func:`forecast_assets.definitions.build_resource_defs`)."""
    return Definitions(assets=list(build_dbt_assets()))
