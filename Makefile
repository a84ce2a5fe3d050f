# Task runner. `make run` and `make test` each set up what they need on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test faults bench audit lint fix typecheck check services clean migration lock

# The locked versions, every file checked against its hash; then the project itself, its dependencies already in.
$(STAMP): pyproject.toml requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

## Re-lock after changing dependencies in pyproject.toml: requirements/runtime.txt (the image) and dev.txt.
lock: $(STAMP)
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile --quiet pyproject.toml --generate-hashes --python-version 3.11 -o requirements/runtime.txt
	$(BIN)/uv pip compile --quiet pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements/dev.txt

## Start ingest, processor and dashboard on the embedded default, with demo data.
run: $(STAMP)
	$(BIN)/impact run

## Set up and run the whole test suite (starts the Kafka-protocol broker itself; needs PostgreSQL).
test: $(STAMP) services
	$(BIN)/python -m pytest -n auto --dist loadfile -m "not faults"

## The fault-injection suite: processes killed, the broker and PostgreSQL stopped mid-run (one at a time).
FAULTS ?= tests/faults/test_crash_safety.py tests/faults/test_faults.py
faults: $(STAMP) services
	$(BIN)/python -m pytest -m faults -p no:xdist $(FAULTS)

## Benchmarks: every figure as a ratio against a baseline of the same run, written to docs/operations/benchmarks-latest.md.
bench: $(STAMP) services
	$(BIN)/python bench/all.py --write docs/operations/benchmarks-latest.md

## Known vulnerabilities in the installed packages (needs a reachable vulnerability database).
audit: $(STAMP)
	$(BIN)/pip install --quiet pip-audit
	$(BIN)/pip-audit --strict --skip-editable

## Make sure PostgreSQL is up (CI machines have it installed; start it when it is down).
services:
	@if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then \
		command -v pg_ctlcluster >/dev/null && pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start || true; \
	fi

## Write the next migration from the models' changes, then read it: make migration m="what changed"
migration: $(STAMP)
	$(BIN)/python -m impact.migrations "$(m)"
	$(BIN)/ruff format --quiet impact/migrations/versions
	$(BIN)/ruff check --quiet --fix impact/migrations/versions

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

fix: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check: lint test

clean:
	rm -rf var .pytest_cache .ruff_cache .mypy_cache
