# Two commands on a fresh machine: `make run` serves the API on SQLite,
# `make test` installs everything and runs ruff, mypy and the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test check lint format typecheck bench clean-venv

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
