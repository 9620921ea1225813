"""The one ``Definitions`` of the code location, assembled when definitions load.

Importing this module reads no settings and runs no dbt: :func:`defs` (what ``dagster dev``,
the code server and ``dagster definitions validate`` load) reads the environment when it is
called, and tests call :func:`build_definitions` with settings of their own.

Two halves: what needs no settings is autoloaded from ``defs/`` (the assets, the dbt assets,
``forecast_client``, the automation sensor); what the settings decide (resources, executor,
schedule time, landing and failure sensors, freshness limit) is built by the factories in
``defs/`` and merged in here.
"""

from __future__ import annotations

from pathlib import Path

from dagster import AssetsDefinition, Definitions, definitions, load_from_defs_folder

from forecast_assets.defs.automation import build_daily_schedule
from forecast_assets.defs.dbt.project import dbt_cli_resource
from forecast_assets.defs.executors import run_executor
from forecast_assets.defs.freshness import build_forecast_freshness_check
from forecast_assets.defs.sensors import build_failure_sensor, build_landing_sensor
from forecast_assets.resources.build import build_resources
from forecast_assets.settings import Settings

PACKAGE_DIR = Path(__file__).parent


def autoloaded_definitions() -> Definitions:
    """Everything in ``defs/`` that needs no settings (builds the dbt assets on first call)."""
    return load_from_defs_folder(path_within_project=PACKAGE_DIR)


def build_assets() -> list[AssetsDefinition]:
    """Every asset of the flow, landing files to consumer marts, as ``materialize`` takes them."""
    return [a for a in autoloaded_definitions().assets or [] if isinstance(a, AssetsDefinition)]


def build_resource_defs(settings: Settings) -> dict[str, object]:
    """Every resource an asset asks for: those the settings configure, and the dbt CLI."""
    return {**build_resources(settings), "dbt": dbt_cli_resource()}


def build_definitions(settings: Settings) -> Definitions:
    """The code location for ``settings``."""
    # First, so that a bad setting fails the load at once, before dbt is prepared.
    executor = run_executor(settings)
    configured = Definitions(
        asset_checks=[build_forecast_freshness_check(settings)],
        schedules=[build_daily_schedule(settings)],
        sensors=[build_landing_sensor(settings), build_failure_sensor(settings)],
        resources=build_resource_defs(settings),
        # forecast_client and the runs launched from the asset graph (backfills included) run
        # their steps with this executor: in one process on DuckDB (the file admits one writing
        # process), in a pod per step on Kubernetes (FORECAST_EXECUTOR=k8s).
        executor=executor,
    )
    return Definitions.merge(autoloaded_definitions(), configured)


@definitions
def defs() -> Definitions:
    """What Dagster loads (``-m forecast_assets.definitions``): the settings of the environment."""
    return build_definitions(Settings.from_env())
