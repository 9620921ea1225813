-- Runs once, when the compose Postgres volume is first initialised (as POSTGRES_USER).
-- POSTGRES_DB (dagster) holds the Dagster instance; the warehouse and MLflow get their own.
create database warehouse;
create database mlflow;
