"""forecast-assets: multi-tenant demand forecasting as Dagster software-defined assets."""
