"""Dagster resources: the warehouse, the Chronos model, MLflow tracking."""
