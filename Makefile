# Targets shared by people and CI. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN := $(BIN)/python entrypoint.py
INSTALLED := $(VENV)/.installed

.PHONY: help install lock migrate revision check status test test-unit test-integration lint format

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

install: $(INSTALLED) ## Create .venv with the locked runtime and development dependencies

$(INSTALLED): requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	touch $@

lock: install ## Re-resolve requirements*.lock from pyproject.toml (with hashes)
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --universal --python-version 3.11 -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --universal --python-version 3.11 -o requirements-dev.lock

migrate: install ## Upgrade the database in DATABASE_URL (or .env) to head
	$(RUN) upgrade

revision: install ## Autogenerate a revision: make revision m="add level to status"
	@[ -n "$(m)" ] || { echo 'usage: make revision m="what the revision does"' >&2; exit 2; }
	$(RUN) autogenerate -m "$(m)"

check: install ## Exit 7 if the database differs from the schema module
	$(RUN) check

status: install ## Show the database's revision and what is pending
	$(RUN) status

test: install ## Run every test suite (integration needs TEST_DATABASE_URL's server)
	$(BIN)/python -m pytest

test-unit: install ## Run the tests that need no server
	$(BIN)/python -m pytest tests/unit

test-integration: install ## Run the tests against the MySQL/MariaDB server
	$(BIN)/python -m pytest tests/integration

lint: install ## ruff (lint and format check) and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
