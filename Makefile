# One entry point. `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export XDG_RUNTIME_DIR ?= /tmp
export HF_HUB_OFFLINE := 1

.PHONY: setup run test test-fast lint bench clean stateful crash-seeds

setup: $(STAMP)

# torch first, pinned: it is the CPU build; an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[semantic,web,dev]'
	touch $(STAMP)

run: setup
	$(BIN)/sync-engine validate sample_plans/
	$(BIN)/sync-engine sync --root sample_plans/
	$(BIN)/sync-engine status --root sample_plans/

lint: setup
	$(BIN)/ruff check sync_engine tests benchmarks
	$(BIN)/ruff format --check sync_engine tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -x -m "not slow"

# The state machine of the both-ways sync with many examples (hours). It runs in an existing
# environment (`make setup` first, or VENV=path/to/another/.venv) and never reinstalls it.
STATEFUL_EXAMPLES ?= 10000
stateful:
	@test -x $(BIN)/python || { echo "no $(BIN)/python: run 'make setup' first" >&2; exit 2; }
	SYNC_ENGINE_STATEFUL_EXAMPLES=$(STATEFUL_EXAMPLES) $(BIN)/python -m pytest -q \
		tests/integration/test_sync_stateful.py

# 150 seeded random scenarios of a sync killed after writing a file (about 20 minutes).
crash-seeds:
	@test -x $(BIN)/python || { echo "no $(BIN)/python: run 'make setup' first" >&2; exit 2; }
	CRASH_SEEDS=150 $(BIN)/python -m pytest -q tests/integration/test_sync_crash.py -m slow

bench: setup
	$(BIN)/python benchmarks/parse.py
	npm ci --prefix benchmarks --silent
	$(BIN)/python benchmarks/sync.py
	$(BIN)/python benchmarks/write_back.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
