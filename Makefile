# The front door. `make demo` and `make test` each set up everything they need first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup demo test lint dev docs docs-serve clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, as the CPU build: otherwise a dependency pulls a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	cd dbt_project && ../$(BIN)/dbt parse --profiles-dir . --quiet
	touch $(STAMP)

setup: $(STAMP)

## Generate the demo clients' landing files and run the whole flow on DuckDB + SQLite + local MLflow.
demo: $(STAMP)
	$(BIN)/forecast-assets demo

## Run the test suite (starts nothing by hand; Postgres tests use the local server).
test: $(STAMP)
	$(BIN)/ruff check forecast_assets tests
	$(BIN)/pytest -q

## The Dagster UI and daemon on the instance under var/dagster_home (SQLite; Postgres with DAGSTER_PG_HOST).
dev: $(STAMP)
	$(BIN)/python -c "from pathlib import Path; from forecast_assets.cli import prepare_dagster_home as p; p(Path('var/dagster_home'))"
	DAGSTER_PG_PORT=$${DAGSTER_PG_PORT:-5432} DAGSTER_PG_PASSWORD=$${DAGSTER_PG_PASSWORD-} \
		DAGSTER_HOME=$(CURDIR)/var/dagster_home $(BIN)/dagster dev -w workspace.yaml

## The dbt documentation site (models, columns, tests, lineage) for the warehouse under var/.
DOCS_VARS := '{"client_id": "docs"}'
docs: $(STAMP)
	mkdir -p var
	cd dbt_project && ../$(BIN)/dbt docs generate --profiles-dir . --target-path target/docs --vars $(DOCS_VARS)

docs-serve: docs
	cd dbt_project && ../$(BIN)/dbt docs serve --profiles-dir . --target-path target/docs

clean:
	rm -rf var dbt_project/target dbt_project/logs
