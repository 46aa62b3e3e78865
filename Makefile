# Two commands on a fresh machine: `make run` (the whole default sweep) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# `make run` and `make bench` have the machine to themselves: one cell per core, one thread per fit
# (CatBoost, the slowest learner, gains little from a second thread; a second cell doubles the work done).
MACHINE = CVN_THREADS=$${CVN_THREADS:-1} CVN_CELL_WORKERS=$${CVN_CELL_WORKERS:-$$(nproc 2>/dev/null || echo 1)}

.PHONY: run test lint ui install home clean bench browser gate-calibration

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,lint]"
	touch $@

install: $(BIN)/.installed

home: install
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

## Materialize the whole default sweep on the persistent local instance and print the verdicts.
run: home
	$(MACHINE) $(BIN)/cvn-assets run

## Chromium from Debian's packages for the browser tests (does nothing when /usr/bin/chromium exists).
browser:
	bash scripts/ensure-chromium.sh

## Install and run the whole test suite (slow, browser and Postgres tests included). When no PostgreSQL
## answers at CVN_TEST_POSTGRES_URL (default 127.0.0.1:5432), the tests start a throwaway server from the
## machine's initdb/pg_ctl; without those they skip, or fail when CI is set (as .ci/run sets it).
test: install browser
	$(BIN)/python -m pytest

## Lint, format check, types, import cycles and the Definitions' own validation.
lint: home
	$(BIN)/ruff check cvn_assets cvn_assets_tests cvn_assets_bench scripts
	$(BIN)/ruff format --check cvn_assets cvn_assets_tests cvn_assets_bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python scripts/import_cycles.py cvn_assets
	$(BIN)/dagster definitions validate -w workspace.yaml

## The Dagster web UI on http://127.0.0.1:3000 over the same instance `make run` used.
ui: home
	CVN_THREADS=$${CVN_THREADS:-1} CVN_CELL_WORKERS=$${CVN_CELL_WORKERS:-1} $(BIN)/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

## Benchmark the sweep: through Dagster on a fresh temporary instance vs a plain loop, a re-run, the gate.
## BENCH_ARGS passes options, e.g. BENCH_ARGS="--only plain,dagster,floor" (see `cvn-assets bench --help`).
bench: home
	$(MACHINE) $(BIN)/cvn-assets bench $(BENCH_ARGS)

## The gate's CI coverage, false-LOCK / false-ABANDON rates and power on simulated sweeps, per inference
## method: rewrites docs/gate-error-rates.md and the rates the dossier quotes. GATE_CALIBRATION_ARGS adds options.
gate-calibration: install
	$(BIN)/cvn-assets gate-calibration --doc docs/gate-error-rates.md --rates cvn_assets/core/gate/error_rates.json $(GATE_CALIBRATION_ARGS)

clean:
	rm -rf $(DAGSTER_HOME) .pytest_cache
