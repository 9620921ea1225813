#!/bin/bash
# Runs once, when the compose Postgres volume is first initialised (as the superuser postgres).
#
# A role per service, each owning its own database and nothing else:
#   dagster  -> database dagster    (the Dagster instance: runs, events, schedules)
#   forecast -> database warehouse  (raw, ml, analytics schemas; dbt builds as this role)
#   mlflow   -> database mlflow     (MLflow's backend store)
# None is a superuser or may create databases, and no role may connect to another's database.
# Only the warehouse writer may create roles: `forecast-assets grant-consumers` creates the
# consumer roles (client_<key>) and the marts' owner must run it. On Postgres 16 (compose's image)
# CREATEROLE manages only the roles its holder created, never dagster's or mlflow's.
#
# Passwords come from the container's environment (docker/.env), read inside psql with \getenv,
# so they appear neither on a command line nor in this file.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<'SQL'
\getenv dagster_password DAGSTER_DB_PASSWORD
\getenv warehouse_password WAREHOUSE_DB_PASSWORD
\getenv mlflow_password MLFLOW_DB_PASSWORD

create role dagster login nosuperuser nocreatedb nocreaterole noinherit password :'dagster_password';
create role forecast login nosuperuser nocreatedb createrole noinherit password :'warehouse_password';
create role mlflow login nosuperuser nocreatedb nocreaterole noinherit password :'mlflow_password';

create database dagster owner dagster;
create database warehouse owner forecast;
create database mlflow owner mlflow;

revoke all on database dagster, warehouse, mlflow from public;
grant connect, temporary on database dagster to dagster;
grant connect, temporary on database warehouse to forecast;
grant connect, temporary on database mlflow to mlflow;
SQL
