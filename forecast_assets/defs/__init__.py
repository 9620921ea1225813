"""Thin Dagster definitions over the core: assets, checks, jobs, schedules."""
