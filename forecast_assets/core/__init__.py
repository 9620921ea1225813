"""The pure domain core, one package per stage of the flow, free of Dagster and of the settings.

- ``landing``: reading and validating a client's delivery, and what counts as a new delivery.
- ``forecasting``: the forecast table's columns, backtest cutoffs, Chronos and the baselines.
- ``evaluation``: metrics, scoring and champions, drift, plots.
- ``inventory``: the replenishment policy from a forecast distribution.
- ``classification``: item classes shared by forecasting and inventory.
- ``running``: the pure decisions behind schedules and checks (freshness, retrospective ranges).

Functions over DataFrames, unit-tested alone; ``tests/test_architecture.py`` keeps it pure.
"""
