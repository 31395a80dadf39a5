# One command vocabulary for people and CI alike.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# no telemetry from the temporary Prefect server of an embedded run (no internet here anyway)
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: setup run test check lint typecheck unit bench lock system-deps stack-up stack-down stack-status clean

# The exact versions come from requirements.lock: a fresh machine gets what CI tested.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install the project with its dev tools

run: setup  ## train once on embedded defaults (no servers needed)
	$(BIN)/python -m flows.training

lint: setup
	$(BIN)/ruff check housing_core tasks flows deployments tests
	$(BIN)/ruff format --check housing_core tasks flows deployments tests

typecheck: setup
	$(BIN)/mypy housing_core tasks flows deployments

check: lint typecheck  ## static checks only

test: check system-deps  ## static checks, then every test (starts its own servers on loopback)
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

unit: setup  ## the quick tests (no server but a throw-away Redis)
	$(BIN)/python -m pytest tests/core tests/tasks

bench: setup  ## benchmark scripts that print figures (about 20 minutes)
	$(BIN)/python -m tests.benchmarks.training_overhead
	$(BIN)/python -m tests.benchmarks.serving_latency
	$(BIN)/python -m tests.benchmarks.standard_servers
	$(BIN)/python -m tests.benchmarks.promotion_cost
	$(BIN)/python -m tests.benchmarks.evaluate_models

lock:  ## re-resolve pyproject.toml's dependencies in a scratch venv and pin them
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet -e ".[dev]"
	{ sed -n '1,3p' requirements.lock; .lock-venv/bin/pip freeze --exclude-editable; } > requirements.lock.new
	mv requirements.lock.new requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf .housing .pytest_cache .mypy_cache .ruff_cache

PROFILE ?= dev

system-deps:  ## PostgreSQL 15, Redis and s3rver, for the team profile and the tests (root/sudo)
	./deployments/system-deps.sh

# the team profile runs PostgreSQL, Redis and s3rver: installed first, if missing
stack-up: setup $(if $(filter team,$(PROFILE)),system-deps)  ## the local stack under supervisord (PROFILE=dev | team; see deployments/README.md)
	$(BIN)/python -m deployments.stack up --profile $(PROFILE)

stack-down:  ## stop every process of the local stack
	$(BIN)/python -m deployments.stack down

stack-status:
	$(BIN)/python -m deployments.stack status
