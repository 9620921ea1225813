"""Thin Dagster definitions over the core: assets, checks, jobs, schedules, sensors.

Autoloaded (``dagster.load_from_defs_folder``, see ``[tool.dg.project]`` in pyproject.toml):
every definition at the top level of a module here, and every ``@definitions`` function, is
picked up without being listed anywhere. What depends on settings (the executor, the schedule's
time, the sensors, the freshness check's limit, the resources) is built by factories here and
assembled when definitions load, in :func:`forecast_assets.definitions.build_definitions`.
"""
