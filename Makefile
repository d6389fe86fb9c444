# Two commands do all the set-up on a fresh machine with only Python 3.11+:
#   make run    start a local network (chain, miners, validators) on the embedded defaults
#   make test   ruff, the import layers (lint-imports), mypy, then the whole test suite
# Both create .venv and install on first use. TORCH_SPEC picks the torch build: the default is
# the CPU wheel; on a GPU machine use e.g. `make test TORCH_SPEC="torch==2.13.0 --index-url ..."`.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_ARGS ?=
# The folders laid out under their import names, for lint-imports and mypy (see
# subnetkit/tools/import_view.py); rebuilt on every run.
IMPORT_VIEW := build/import-view

.PHONY: install run test lint typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e ".[dev,embedding]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/subnetkit localnet up $(RUN_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# lint-imports adds its working directory to sys.path, so it runs inside the view.
typecheck: $(STAMP)
	$(BIN)/python -m subnetkit.tools.import_view $(IMPORT_VIEW)
	cd $(IMPORT_VIEW) && $(abspath $(BIN))/lint-imports --config $(CURDIR)/pyproject.toml --no-cache --no-logo
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/wire.py
	$(BIN)/python bench/epoch.py
	$(BIN)/python bench/chain.py
	$(BIN)/python bench/scoring.py
	$(BIN)/python bench/transport.py
	$(BIN)/python bench/loadtest.py
	$(BIN)/python bench/simulate.py
	$(BIN)/python bench/ray.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache $(IMPORT_VIEW)
