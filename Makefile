# drp: the data reliability platform. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
TOOLS := .drp/tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
VENV := .venv
DRP := $(VENV)/bin/drp
PYTEST_ARGS ?=
# Two lanes (tests/conftest.py): the running stack's tests in order, and beside them the tests that
# need no service or bring their own database, lake and generator.
TEST_WORKERS ?= 2
PY_DIRS := include dags plugins tests bench
DATE ?=
RUNS ?= 3
SEED ?= 1
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1

.PHONY: help install up down status logs run backfill chaos test test-e2e test-unit lint format docs bench clean browser

help: ## Show this help
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

$(TOOLS)/bin/uv:
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q uv==$(UV_VERSION)

$(VENV)/.installed: uv.lock pyproject.toml
	@command -v uv >/dev/null || $(MAKE) --no-print-directory $(TOOLS)/bin/uv
	$(UV) sync --frozen
	@touch $@

install: $(VENV)/.installed ## Install the locked environment (quick when nothing changed)

up: install ## Start the stack (Docker if an engine runs, else native) and wait until healthy
	$(DRP) up

down: ## Stop everything `make up` started
	@if [ -x $(DRP) ]; then $(DRP) down; else echo "not installed: nothing to stop"; fi

status: install ## Each service, its URL and health
	$(DRP) status

logs: install ## Service logs (SERVICE=airflow-scheduler for one)
	$(DRP) logs $(SERVICE)

run: up ## Install, start the stack and run the pipeline end to end (DATE=YYYY-MM-DD)
	$(DRP) run $(if $(DATE),--date $(DATE))

test: lint up browser ## Install, lint, start the stack and run the whole test suite (full DAG runs included)
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

browser: ## Debian's chromium for the page tests (Playwright drives it; it never downloads a browser)
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	  else echo "error: the page tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

test-e2e: up ## Only the full daily-DAG runs against the stack (dag.test and the scheduler)
	$(VENV)/bin/pytest -m dag_e2e $(PYTEST_ARGS)

test-unit: install ## Only the tests that need no service
	$(VENV)/bin/pytest -m unit $(PYTEST_ARGS)

lint: install ## ruff, mypy, import contracts (lint-imports) and sqlfluff
	$(VENV)/bin/ruff check $(PY_DIRS)
	$(VENV)/bin/ruff format --check $(PY_DIRS)
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	cd dbt_project && ../$(VENV)/bin/sqlfluff lint models macros tests snapshots

format: install ## Format Python and fix what sqlfluff can
	$(VENV)/bin/ruff format $(PY_DIRS)
	$(VENV)/bin/ruff check --fix $(PY_DIRS)
	cd dbt_project && ../$(VENV)/bin/sqlfluff fix models macros tests snapshots

docs: install ## Build and serve dbt docs and GX Data Docs
	$(DRP) docs

bench: up ## Benchmarks: prints a table, writes bench/results/<timestamp>.json (QUICK=1: small CI version)
	$(VENV)/bin/python bench/run.py $(if $(QUICK),--quick)

clean: down ## Stop the stack and delete local state (.drp: databases of a local cluster, object store data)
	rm -rf .drp/postgres .drp/seaweedfs .drp/airflow .drp/logs .drp/warehouse .drp/dbt dbt_project/target

backfill: up ## Run the pipeline for each day START..END inclusive (START=YYYY-MM-DD END=YYYY-MM-DD)
	$(DRP) backfill --start $(START) --end $(END)

chaos: up ## Chaos campaign: RUNS daily runs under random faults from SEED, invariants checked (RUNS=3 SEED=1)
	$(VENV)/bin/python -m drpctl.chaos --runs $(RUNS) --seed $(SEED)
