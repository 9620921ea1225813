"""The pure domain core: functions over DataFrames, free of Dagster, unit-tested alone."""
