# Two commands on a fresh machine: `make run` serves the API on SQLite,
# `make test` installs everything and runs ruff, mypy and the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test check lint format typecheck bench clean-venv
.PHONY: docker-build docker-run docker-run-dev docker-stop docker-logs
.PHONY: docker-backup docker-restore docker-upgrade

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python -m ai_code_reviewer.api.main

lint: install
	$(BIN)/ruff check src tests alembic scripts benchmarks
	$(BIN)/ruff format --check src tests alembic scripts benchmarks

typecheck: install
	$(BIN)/mypy

check: lint typecheck

test: check
	$(BIN)/python -m pytest

format: install
	$(BIN)/ruff format src tests alembic scripts benchmarks
	$(BIN)/ruff check --fix src tests alembic scripts benchmarks

bench: install
	$(BIN)/python -m benchmarks

clean-venv:
	rm -rf $(VENV)

# Docker (docs/DOCKER.md). DOCKER_PROFILES adds optional services with their
# override files, e.g. `make docker-run DOCKER_PROFILES="postgres worker"`;
# give every docker-* target the same value. A .env beside this Makefile is
# handed to the containers and to Compose (for POSTGRES_PASSWORD).
DOCKER ?= docker
COMPOSE ?= $(DOCKER) compose
DOCKER_PROFILES ?=
READY_TIMEOUT ?= 120
COMPOSE_ENV_FILE = $(if $(wildcard .env),--env-file .env)
COMPOSE_PROD = $(strip $(COMPOSE) $(COMPOSE_ENV_FILE) -f docker/docker-compose.yml \
	$(foreach p,$(DOCKER_PROFILES),-f docker/docker-compose.$(p).yml --profile $(p)))
COMPOSE_DEV = $(strip $(COMPOSE) $(COMPOSE_ENV_FILE) -f docker/docker-compose.dev.yml)
DOCKER_SCRIPT_ENV = DOCKER="$(DOCKER)" COMPOSE="$(COMPOSE_PROD)"

docker-build:
	$(COMPOSE_PROD) build

docker-run:
	$(COMPOSE_PROD) up -d

docker-run-dev:
	mkdir -p data
	HOST_UID=$$(id -u) HOST_GID=$$(id -g) $(COMPOSE_DEV) up -d --build

docker-stop:
	$(COMPOSE_PROD) down
	$(COMPOSE_DEV) down

docker-logs:
	$(COMPOSE_PROD) logs -f --tail=200

docker-backup:
	$(DOCKER_SCRIPT_ENV) scripts/docker_backup.sh

docker-restore:
	$(if $(FILE),,$(error usage: make docker-restore FILE=backups/ai_code_reviewer_YYYYMMDD_HHMMSS.db))
	$(DOCKER_SCRIPT_ENV) scripts/docker_restore.sh '$(FILE)'

docker-upgrade:
	$(DOCKER_SCRIPT_ENV) READY_TIMEOUT=$(READY_TIMEOUT) scripts/docker_upgrade.sh
