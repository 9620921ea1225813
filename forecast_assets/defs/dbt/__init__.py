"""dbt wired with dagster-dbt: modelling (staging -> ts_demand_daily, covariate_calendar) and the
consumer marts, each built per client partition with the client passed as a dbt var.

- ``project.py``: the :class:`~dagster_dbt.DbtProject` (parsed when definitions load, never at
  import) and the dbt CLI resource;
- ``translator.py``: dbt nodes to Dagster keys, groups and automation;
- ``assets.py``: the two ``@dbt_assets`` and the dbt vars of a run, loaded with the rest of
  ``defs/``.
"""

from forecast_assets.defs.dbt.project import dbt_executable

__all__ = ["dbt_executable"]
