# One entry point. `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export XDG_RUNTIME_DIR ?= /tmp
export HF_HUB_OFFLINE := 1

.PHONY: setup run test test-fast lint bench clean stateful crash-seeds properties

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

# The state machine of the both-ways sync with many examples (hours), shared out between
# STATEFUL_JOBS processes (random examples each, one log each in STATEFUL_LOGS). It runs in
# an existing environment (`make setup` first, or VENV=path/to/another/.venv).
STATEFUL_EXAMPLES ?= 10000
STATEFUL_JOBS ?= 2
STATEFUL_LOGS ?= stateful-logs
stateful:
	@test -x $(BIN)/python || { echo "no $(BIN)/python: run 'make setup' first" >&2; exit 2; }
	@mkdir -p $(STATEFUL_LOGS); pids=""; \
	for job in $$(seq 1 $(STATEFUL_JOBS)); do \
		SYNC_ENGINE_STATEFUL_EXAMPLES=$$(( $(STATEFUL_EXAMPLES) / $(STATEFUL_JOBS) )) \
		$(BIN)/python -m pytest -q -p no:cacheprovider \
			--basetemp=$(STATEFUL_LOGS)/tmp-$$job tests/integration/test_sync_stateful.py \
			> $(STATEFUL_LOGS)/job-$$job.log 2>&1 & pids="$$pids $$!"; \
	done; \
	echo "$(STATEFUL_JOBS) jobs of $$(( $(STATEFUL_EXAMPLES) / $(STATEFUL_JOBS) )) examples; logs in $(STATEFUL_LOGS)/"; \
	failed=0; for pid in $$pids; do wait $$pid || failed=1; done; \
	grep -h -E "examples run|passed|failed" $(STATEFUL_LOGS)/job-*.log; exit $$failed

# The property tests of the unit suite with fresh random examples (`make test` tries the
# same ones every time); a failure prints the example to keep as a test.
properties:
	@test -x $(BIN)/python || { echo "no $(BIN)/python: run 'make setup' first" >&2; exit 2; }
	HYPOTHESIS_PROFILE=random $(BIN)/python -m pytest -q -p no:cacheprovider tests/unit

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
