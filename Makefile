# Targets shared by people and CI. `make help` lists them. The targets that run a
# command pass `args` on to it (`make plan args="--format json"`). make itself exits
# 2 whatever the command's exit code: scripts that act on the code run the runner.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN := $(BIN)/python entrypoint.py
INSTALLED := $(VENV)/.installed
RUNTIME := $(VENV)/.runtime

# Docker: the docker.io package's CLI where installed (a newer CLI without buildx
# cannot build with BuildKit), and the stand-in base images of
# `make offline-images` where they exist (no registry on this kind of machine).
DOCKER ?= $(shell bash tests/e2e/offline-images.sh --print-docker 2>/dev/null || echo docker)
COMPOSE ?= $(shell $(DOCKER) compose version >/dev/null 2>&1 && echo "$(DOCKER) compose" || echo docker-compose)
STANDIN_PYTHON_IMAGE := migrator-standin/python:bookworm
STANDIN_MYSQL_IMAGE := migrator-standin/mysql:bookworm
has_image = $(shell $(DOCKER) image inspect $(1) >/dev/null 2>&1 && echo yes)
PYTHON_IMAGE ?= $(if $(call has_image,$(STANDIN_PYTHON_IMAGE)),$(STANDIN_PYTHON_IMAGE),python:3.12-slim-bookworm)
MYSQL_IMAGE ?= $(if $(call has_image,$(STANDIN_MYSQL_IMAGE)),$(STANDIN_MYSQL_IMAGE),mysql:8.4)
# The release, named once in migrator/__init__.py; the image is tagged with it too.
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' migrator/__init__.py)
IMAGE ?= migrator:latest
export DOCKER PYTHON_IMAGE MYSQL_IMAGE

# Tests run in parallel (pytest-xdist): each test has its own database, and most of
# a test's time is spent waiting on the server or a child process.
TEST_WORKERS ?= 4
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS)
# The online schema change tests time a writer's inserts against a 1,000,000-row copy:
# they run one at a time, after the rest, with the machine to themselves.
PARALLEL_INTEGRATION := -m "not restarts_server and not online_ddl" tests/integration
ONLINE_INTEGRATION := $(BIN)/python -m pytest -m online_ddl tests/integration
# The real servers of `make test-servers` (tests/servers/real-servers.sh).
SERVERS := bash tests/servers/real-servers.sh
TEST_SERVERS ?= mysql97 mariadb118

.PHONY: help install install-runtime lock migrate revision check status downgrade history heads \
	sql stamp baseline plan test test-unit test-integration test-e2e test-servers servers servers-down \
	lint format image up down logs compose-revision offline-images bench bench-online

# Variables that help texts mention, shown with their values by `make help`.
HELP_VARIABLES := IMAGE PYTHON_IMAGE MYSQL_IMAGE TEST_SERVERS TEST_WORKERS

help: ## List the targets
	@grep -hE '^[a-z0-9][a-z0-9-]*:.*## ' $(MAKEFILE_LIST) \
		| sed -E 's/^([a-z0-9-]+):.*## /\1\t/' \
		$(foreach variable,$(HELP_VARIABLES),| sed 's|$$($(variable))|$($(variable))|g') \
		| awk -F'\t' '{printf "  %-18s %s\n", $$1, $$2}'

install: $(INSTALLED) ## Create .venv with the locked runtime and development dependencies

install-runtime: $(RUNTIME) ## Create .venv with the runtime dependencies only (what migrating needs)

$(INSTALLED): requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	touch $@

# The development lock holds the runtime one; either stamp means the runtime is there.
$(RUNTIME): requirements.lock
	$(PYTHON) -m venv $(VENV)
	[ -e $(INSTALLED) ] || $(BIN)/pip install --quiet --require-hashes --no-deps -r requirements.lock
	touch $@

lock: install ## Re-resolve requirements*.lock from pyproject.toml (with hashes)
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --universal --python-version 3.11 -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --universal --python-version 3.11 -o requirements-dev.lock

migrate: $(RUNTIME) ## Upgrade the database in DATABASE_URL (or .env) to head: make migrate [args="--target log"]
	$(RUN) upgrade $(args)

revision: $(RUNTIME) ## Autogenerate a revision: make revision m="add level to status"
	@[ -n "$(m)" ] || { echo 'usage: make revision m="what the revision does"' >&2; exit 2; }
	$(RUN) autogenerate -m "$(m)" $(args)

check: $(RUNTIME) ## Exit 7 if the database differs from the schema module
	$(RUN) check $(args)

status: $(RUNTIME) ## Show the database's revision and what is pending: make status [args=--exit-code]
	$(RUN) status $(args)

downgrade: $(RUNTIME) ## Downgrade the database: make downgrade rev=-1 (or a revision id, or base)
	@[ -n "$(rev)" ] || { echo 'usage: make downgrade rev=-1' >&2; exit 2; }
	$(RUN) downgrade "$(rev)" $(args)

history: $(RUNTIME) ## List the revisions, newest first
	$(RUN) history $(args)

heads: $(RUNTIME) ## Show the head revision of the migrations
	$(RUN) heads $(args)

sql: $(RUNTIME) ## Print the migrations' DDL without a database: make sql [range=START:END]
	$(RUN) sql $(range) $(args)

stamp: $(RUNTIME) ## Record a revision as applied without running it: make stamp rev=head
	@[ -n "$(rev)" ] || { echo 'usage: make stamp rev=head' >&2; exit 2; }
	$(RUN) stamp "$(rev)" $(args)

baseline: $(RUNTIME) ## Adopt an existing database at a revision: make baseline rev=REV [args=--replace-foreign]
	@[ -n "$(rev)" ] || { echo 'usage: make baseline rev=REV [args=--replace-foreign]' >&2; exit 2; }
	$(RUN) baseline "$(rev)" $(args)

plan: $(RUNTIME) ## List each pending statement with the algorithm and lock it will take: make plan [args="--format json"]
	$(RUN) plan $(args)

test: install ## Run every test suite (integration needs TEST_DATABASE_URL's server)
	$(PYTEST) tests/unit tests/repo
	$(PYTEST) $(PARALLEL_INTEGRATION)
	$(ONLINE_INTEGRATION)
	$(BIN)/python -m pytest tests/e2e  # one image build and one compose project at a time

test-unit: install ## Run the tests that need no server (tests/unit, tests/repo)
	$(PYTEST) tests/unit tests/repo

test-integration: install ## Run the tests against the MySQL/MariaDB server in TEST_DATABASE_URL
	$(PYTEST) $(PARALLEL_INTEGRATION)
	$(ONLINE_INTEGRATION)

test-e2e: install ## Build the image and run it and the compose chain with Docker
	$(BIN)/python -m pytest tests/e2e

servers: ## Build (once per machine) and start real MySQL 9.7 and MariaDB 11.8 on ports 3307, 3308
	$(SERVERS) up

servers-down: ## Stop the servers of `make servers`
	$(SERVERS) down

test-servers: install servers ## Run the integration suite against MySQL 9.7 and MariaDB 11.8 (TEST_SERVERS)
	@set -a; eval "$$($(SERVERS) env)"; set +a; \
	for name in $(TEST_SERVERS); do \
		variable="TEST_DATABASE_URL_$${name^^}"; \
		echo "== integration suite against $$name" >&2; \
		export TEST_DATABASE_URL="$${!variable}" TEST_DATABASE_CA="$$($(SERVERS) ca $$name)" \
			TEST_SERVER_NAME="$$name"; \
		$(PYTEST) $(PARALLEL_INTEGRATION) || exit 1; \
		$(ONLINE_INTEGRATION) || exit 1; \
		$(BIN)/python -m pytest -m restarts_server tests/integration || exit 1; \
	done

bench: install ## Compare with plain Alembic, dbmate and a PyMySQL floor; drift (BENCH_ARGS, FLEET_ARGS="--shards 200", DRIFT_ARGS="--shards 1000")
	PYTHONPATH=$(CURDIR) $(BIN)/python bench/run.py --markdown bench/results.md $(BENCH_ARGS)
	PYTHONPATH=$(CURDIR) $(BIN)/python bench/fleet.py --markdown bench/results.md $(FLEET_ARGS)
	PYTHONPATH=$(CURDIR) $(BIN)/python bench/drift.py --markdown bench/results.md $(DRIFT_ARGS)
	PYTHONPATH=$(CURDIR) $(BIN)/python bench/online.py --markdown bench/results.md

bench-online: install servers ## INT to BIGINT on 1,000,000 rows, plain ALTER against online, on TEST_DATABASE_URL's server and TEST_SERVERS
	PYTHONPATH=$(CURDIR) $(BIN)/python bench/online.py --markdown bench/results.md
	@set -a; eval "$$($(SERVERS) env)"; set +a; \
	for name in $(TEST_SERVERS); do \
		variable="TEST_DATABASE_URL_$${name^^}"; \
		TEST_DATABASE_URL="$${!variable}" PYTHONPATH=$(CURDIR) \
			$(BIN)/python bench/online.py --markdown bench/results.md || exit 1; \
	done

lint: install ## ruff (lint and format check), mypy --strict, import-linter's layers, hadolint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

offline-images: ## Install Docker and build stand-in base images (machines without a registry)
	bash tests/e2e/offline-images.sh

image: ## Build the runner image ($(IMAGE)) on $(PYTHON_IMAGE)
	DOCKER_BUILDKIT=1 $(DOCKER) build --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE) \
		--build-arg VERSION=$(VERSION) \
		--build-arg REVISION=$$(git rev-parse HEAD 2>/dev/null || echo unknown) \
		-t $(IMAGE) -t migrator:$(VERSION) .

# The image is built by `make image` rather than by compose: docker-compose 1.29
# would hand BuildKit builds to the first docker CLI on PATH.
up: image ## Bring the compose chain up: db healthy, migrate exits 0, app starts
	MIGRATOR_IMAGE=$(IMAGE) $(COMPOSE) up --detach
	$(COMPOSE) logs migrate

down: ## Stop the compose chain (the database volume is kept; args=--volumes deletes it)
	$(COMPOSE) down $(args)

logs: ## Show the compose chain's logs: make logs [args="--follow migrate"]
	$(COMPOSE) logs $(args)

compose-revision: image ## Autogenerate through compose: make compose-revision m="add guild"
	@[ -n "$(m)" ] || { echo 'usage: make compose-revision m="what the revision does"' >&2; exit 2; }
	MIGRATOR_IMAGE=$(IMAGE) $(COMPOSE) run --rm migrate upgrade
	MIGRATOR_IMAGE=$(IMAGE) $(COMPOSE) run --rm --user "$$(id -u):$$(id -g)" \
		-v "$(CURDIR)/migrations/versions:/app/migrations/versions" \
		-v "$(CURDIR)/schema:/app/schema:ro" \
		migrate autogenerate -m "$(m)"
